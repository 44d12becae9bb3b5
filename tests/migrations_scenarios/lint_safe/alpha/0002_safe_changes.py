import uuid

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alpha", "0001_initial"),
        # Reverting the rename renames the content type back.
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # A table given the name it has.
        migrations.AlterModelTable(name="author", table="alpha_author"),
        # Changes of metadata only.
        migrations.AlterField(
            model_name="author", name="name", field=models.CharField(max_length=100)
        ),
        migrations.AlterField(
            model_name="author", name="title", field=models.CharField(max_length=None)
        ),
        migrations.AlterField(
            model_name="author", name="bio", field=models.TextField()
        ),
        migrations.AlterField(
            model_name="author",
            name="price",
            field=models.DecimalField(decimal_places=2, max_digits=7),
        ),
        migrations.AlterField(
            model_name="author", name="slug", field=models.CharField(max_length=50)
        ),
        migrations.AlterField(
            model_name="author",
            name="nickname",
            field=models.CharField(max_length=50, null=True),
        ),
        migrations.AlterField(
            model_name="author",
            name="label",
            field=models.CharField(db_column="label_column", max_length=40),
        ),
        migrations.AlterField(
            model_name="author",
            name="tags",
            field=models.ManyToManyField(
                blank=True, through="alpha.AuthorTag", to="alpha.tag"
            ),
        ),
        # Columns every existing row can do without, or whose value the
        # database computes.
        migrations.AddField(
            model_name="author", name="rating", field=models.IntegerField(null=True)
        ),
        migrations.AddField(
            model_name="author",
            name="token",
            field=models.UUIDField(default=uuid.uuid4, null=True),
        ),
        migrations.AddField(
            model_name="author",
            name="joined",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(),
                default=django.utils.timezone.now,
            ),
        ),
        migrations.AddField(
            model_name="author",
            name="fans",
            field=models.ManyToManyField(related_name="fans", to="alpha.tag"),
        ),
        # Renames that keep the column or the table.
        migrations.RenameField(
            model_name="author", old_name="label", new_name="caption"
        ),
        migrations.RenameField(
            model_name="author", old_name="tags", new_name="keywords"
        ),
        migrations.RenameModel(old_name="Legacy", new_name="Heritage"),
        # Models without a table of their own.
        migrations.AddIndex(
            model_name="unmanaged",
            index=models.Index(fields=["name"], name="unmanaged_name_idx"),
        ),
    ]
