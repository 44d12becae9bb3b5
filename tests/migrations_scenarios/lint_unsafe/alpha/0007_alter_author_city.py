from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0006_alter_author_email")]

    operations = [
        migrations.AlterField(
            model_name="author",
            name="city",
            field=models.CharField(db_index=True, max_length=100, null=True),
        ),
    ]
