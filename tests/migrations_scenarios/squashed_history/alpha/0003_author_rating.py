from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_squashed_0002_mixed")]

    operations = [
        migrations.AddField(
            model_name="author", name="rating", field=models.IntegerField(null=True)
        ),
    ]
