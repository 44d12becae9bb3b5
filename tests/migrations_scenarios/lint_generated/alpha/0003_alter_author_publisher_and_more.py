import django.db.models.deletion
from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("alpha", "0002_author_rating_and_more")]

    operations = [
        syzygy.operations.AlterFieldConcurrently(
            model_name="author",
            name="publisher",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="alpha.publisher",
            ),
        ),
        syzygy.operations.AlterFieldConcurrently(
            model_name="author",
            name="code",
            field=models.CharField(max_length=10, null=True, unique=True),
        ),
        syzygy.operations.AddIndexConcurrently(
            model_name="author",
            index=models.Index(fields=["rating"], name="author_rating_idx"),
        ),
        syzygy.operations.AddConstraintNotValid(
            model_name="author",
            constraint=models.CheckConstraint(
                condition=models.Q(rating__gte=0), name="author_rating_positive"
            ),
        ),
        syzygy.operations.AddConstraintNotValid(
            model_name="author",
            constraint=models.UniqueConstraint(
                fields=["name"], name="author_name_unique"
            ),
        ),
        syzygy.operations.RemoveIndexConcurrently(
            model_name="author",
            name="author_name_idx",
        ),
    ]
