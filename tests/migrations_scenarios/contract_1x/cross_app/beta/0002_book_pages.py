from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alpha", "0002_remove_author_bio"),
        ("beta", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="book", name="pages", field=models.IntegerField(null=True)
        ),
    ]
