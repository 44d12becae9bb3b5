from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("alpha", "0003_second_step")]

    operations = [migrations.RemoveField(model_name="applylog", name="note")]
