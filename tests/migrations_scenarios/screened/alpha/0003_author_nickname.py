import django.db.models
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_author_rating_drop_bio")]

    operations = [
        migrations.AddField(
            model_name="author",
            name="nickname",
            field=django.db.models.TextField(null=True),
        ),
    ]
