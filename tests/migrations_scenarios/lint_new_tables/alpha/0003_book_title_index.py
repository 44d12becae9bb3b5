from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_book")]

    operations = [
        migrations.AddIndex(
            model_name="book",
            index=models.Index(fields=["title"], name="book_title_idx"),
        ),
    ]
