# As makemigrations --disable-syzygy writes it: post-deploy, but until it
# runs new code inserts books without pages, a NOT NULL column.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_book_edition")]

    operations = [migrations.RemoveField(model_name="book", name="pages")]
