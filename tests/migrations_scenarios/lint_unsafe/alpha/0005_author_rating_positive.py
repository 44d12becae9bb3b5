from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0004_author_publisher")]

    operations = [
        migrations.AddConstraint(
            model_name="author",
            constraint=models.CheckConstraint(
                condition=models.Q(rating__gte=0), name="author_rating_positive"
            ),
        ),
    ]
