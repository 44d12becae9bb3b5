from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0005_book_pages_not_null")]

    operations = [
        migrations.AddField(
            model_name="book", name="ref", field=models.UUIDField(null=True)
        ),
    ]
