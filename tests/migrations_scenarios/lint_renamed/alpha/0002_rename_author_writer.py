from django.db import migrations

import syzygy.operations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.RenameModelInState(
            old_name="Author", new_name="Writer", db_table="alpha_author"
        ),
    ]
