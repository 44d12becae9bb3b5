from django.core.management.commands import migrate


class Command(migrate.Command):
    """Another package's migrate, unaware of syzygy's."""
