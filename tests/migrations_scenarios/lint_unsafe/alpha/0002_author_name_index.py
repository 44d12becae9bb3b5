from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="author",
            index=models.Index(fields=["name"], name="author_name_idx"),
        ),
    ]
