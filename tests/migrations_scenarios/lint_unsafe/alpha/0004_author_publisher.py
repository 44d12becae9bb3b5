import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0003_author_code")]

    operations = [
        migrations.AddField(
            model_name="author",
            name="publisher",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="alpha.publisher",
            ),
        ),
    ]
