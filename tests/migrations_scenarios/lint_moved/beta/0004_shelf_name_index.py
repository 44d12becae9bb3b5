from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("beta", "0003_shelf")]

    operations = [
        migrations.AddIndex(
            model_name="shelf",
            index=models.Index(fields=["name"], name="shelf_name_idx"),
        ),
    ]
