from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0005_author_rating_positive")]

    operations = [
        migrations.AlterField(
            model_name="author",
            name="email",
            field=models.CharField(max_length=100, null=True, unique=True),
        ),
    ]
