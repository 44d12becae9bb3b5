import django.db.models.deletion
import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models

import syzygy.operations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.AddField(
            model_name="author",
            name="rating",
            field=models.IntegerField(default=0),
        ),
        syzygy.operations.AddField(
            model_name="author",
            name="created",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(),
                default=django.utils.timezone.now,
            ),
        ),
        migrations.AddField(
            model_name="author",
            name="uuid",
            field=models.UUIDField(null=True),
        ),
        migrations.AddField(
            model_name="author",
            name="publisher",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="alpha.publisher",
            ),
        ),
        migrations.AddField(
            model_name="author",
            name="code",
            field=models.CharField(max_length=10, null=True),
        ),
        syzygy.operations.PreRemoveField(
            model_name="author",
            name="nickname",
            field=models.CharField(max_length=50),
        ),
    ]
