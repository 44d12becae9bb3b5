from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0004_rename_book_novel")]

    operations = [
        migrations.AddConstraint(
            model_name="novel",
            constraint=models.UniqueConstraint(
                fields=["title"], name="novel_title_unique"
            ),
        ),
    ]
