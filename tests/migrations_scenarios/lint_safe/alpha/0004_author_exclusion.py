from django.contrib.postgres.constraints import ExclusionConstraint
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0003_delete_authorproxy")]

    # Not a check or unique constraint: AddConstraintNotValid can't add it
    # without a lock either. PostgreSQL only: the tests don't apply it.
    operations = [
        migrations.AddConstraint(
            model_name="author",
            constraint=ExclusionConstraint(
                name="author_rating_exclusion", expressions=[("rating", "=")]
            ),
        ),
    ]
