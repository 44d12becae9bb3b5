from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0010_author_uuid")]

    operations = [
        migrations.AlterField(
            model_name="author", name="rating", field=models.BigIntegerField(null=True)
        ),
    ]
