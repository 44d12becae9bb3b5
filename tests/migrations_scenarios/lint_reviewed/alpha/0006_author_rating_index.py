from django.db import migrations, models


class Migration(migrations.Migration):
    reviewed_checks = {"syzygy.W02": "A typo: this review is ignored."}

    dependencies = [("alpha", "0005_rename_publisher_press")]

    operations = [
        migrations.RemoveIndex(model_name="author", name="author_rating_idx"),
        migrations.AddIndex(
            model_name="author",
            index=models.Index(fields=["rating", "name"], name="author_rating_idx"),
        ),
    ]
