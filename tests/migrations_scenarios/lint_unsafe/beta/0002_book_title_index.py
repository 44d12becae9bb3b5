from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("beta", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="book",
            index=models.Index(fields=["title"], name="book_title_idx"),
        ),
    ]
