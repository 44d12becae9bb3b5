from django.db import migrations


class Migration(migrations.Migration):
    # As makemigrations writes it when db_table keeps the table.
    dependencies = [
        ("alpha", "0004_author_settings_author_token_author_score"),
        # Renaming a model renames its content type.
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RenameModel(old_name="Publisher", new_name="Press"),
        migrations.AlterModelTable(name="press", table="alpha_publisher"),
    ]
