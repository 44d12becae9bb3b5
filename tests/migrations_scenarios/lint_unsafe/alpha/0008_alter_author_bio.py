from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0007_alter_author_city")]

    operations = [
        migrations.AlterField(
            model_name="author", name="bio", field=models.TextField(default="")
        ),
    ]
