from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0003_author_nickname")]

    operations = [
        migrations.AddField(
            model_name="author", name="code", field=models.TextField(null=True)
        ),
        migrations.RemoveField(model_name="author", name="city"),
    ]
