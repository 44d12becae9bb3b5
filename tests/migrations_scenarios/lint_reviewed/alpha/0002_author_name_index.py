from django.db import migrations, models


class Migration(migrations.Migration):
    reviewed_checks = {
        "syzygy.W002": "alpha_author holds a few hundred rows: the index builds "
        "in milliseconds.",
    }

    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="author",
            index=models.Index(fields=["name"], name="author_name_idx"),
        ),
    ]
