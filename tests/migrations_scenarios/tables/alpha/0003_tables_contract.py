from django.db import migrations

import syzygy.operations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_tables_expand")]

    operations = [
        syzygy.operations.ContractAlterModelTable(name="book", old_table="alpha_book"),
        syzygy.operations.ContractAlterModelTable(name="rack", old_table="alpha_shelf"),
    ]
