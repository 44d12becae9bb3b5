from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_rename_author_writer")]

    operations = [
        migrations.AddIndex(
            model_name="writer",
            index=models.Index(fields=["name"], name="writer_name_idx"),
        ),
    ]
