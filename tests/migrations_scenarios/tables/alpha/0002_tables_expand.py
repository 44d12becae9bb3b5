from django.db import migrations

import syzygy.operations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        syzygy.operations.ExpandAlterModelTable(name="book", table="library_books"),
        syzygy.operations.RenameModelInState(
            old_name="Shelf", new_name="Rack", db_table="alpha_shelf"
        ),
        syzygy.operations.ExpandAlterModelTable(name="rack", table=None),
    ]
