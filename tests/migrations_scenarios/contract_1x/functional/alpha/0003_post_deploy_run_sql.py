from django.db import migrations

from syzygy import Stage

NAME = "0003_post_deploy_run_sql"


class Migration(migrations.Migration):
    # 1.x README: "the following migrations would be *postponed*".
    stage = Stage.POST_DEPLOY

    dependencies = [("alpha", "0002_post_deploy")]

    operations = [
        migrations.RunSQL(
            f"INSERT INTO alpha_applylog (migration) VALUES ('{NAME}')",
            f"DELETE FROM alpha_applylog WHERE migration = '{NAME}'",
        ),
    ]
