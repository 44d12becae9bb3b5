# As makemigrations --disable-syzygy writes it: old code can't insert books.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="edition",
            field=models.IntegerField(default=1),
        ),
    ]
