from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_mixed")]

    operations = [
        migrations.AddField(
            model_name="author", name="nickname", field=models.TextField(null=True)
        ),
    ]
