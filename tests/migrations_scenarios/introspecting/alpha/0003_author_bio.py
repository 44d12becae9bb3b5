from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_rename_author_rank_index")]

    operations = [
        migrations.AddField(
            model_name="author", name="bio", field=models.TextField(null=True)
        ),
    ]
