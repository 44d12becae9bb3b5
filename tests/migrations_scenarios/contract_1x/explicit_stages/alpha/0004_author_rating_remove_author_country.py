from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0003_remove_author_city")]

    operations = [
        migrations.AddField(
            model_name="author", name="rating", field=models.IntegerField(null=True)
        ),
        migrations.RemoveField(model_name="author", name="country"),
    ]
