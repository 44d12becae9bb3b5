from django.core.management.commands import makemigrations

from syzygy.management.commands.makemigrations import StageAwareMakemigrationsMixin


class Command(StageAwareMakemigrationsMixin, makemigrations.Command):
    """Another package's makemigrations, combined with syzygy's."""
