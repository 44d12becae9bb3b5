from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_author_name_index")]

    operations = [
        migrations.AddField(
            model_name="author",
            name="code",
            field=models.CharField(db_index=True, max_length=10, null=True),
        ),
    ]
