from django.db import migrations, models

import syzygy


class Migration(migrations.Migration):
    # 1.x README: "it is recommended to manually annotate them with proper
    # stage".
    stage = syzygy.Stage.POST_DEPLOY

    dependencies = [("alpha", "0002_mixed")]

    operations = [
        migrations.AddField(
            model_name="author", name="email", field=models.TextField(null=True)
        ),
        migrations.RemoveField(model_name="author", name="rating"),
    ]
