from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="book",
            name="rating",
            field=models.BigIntegerField(db_index=True),
        ),
        migrations.AlterField(
            model_name="book",
            name="copies",
            field=models.PositiveIntegerField(db_default=1),
        ),
        migrations.AlterField(
            model_name="book",
            name="score",
            field=models.IntegerField(null=True, unique=True),
        ),
    ]
