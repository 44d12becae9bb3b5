# Hand-written, post-deploy: drops a column the new code still reads.
from django.db import migrations

from syzygy import Stage


class Migration(migrations.Migration):
    stage = Stage.POST_DEPLOY
    dependencies = [("alpha", "0003_remove_book_pages")]

    operations = [migrations.RunSQL("ALTER TABLE alpha_tag DROP COLUMN note")]
