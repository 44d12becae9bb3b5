"""Public constants. Migration files record these import paths."""

from __future__ import annotations

from enum import Enum

__all__ = ("COLUMN_PLACEHOLDER", "Stage")


class Stage(Enum):
    """The moment of a deploy at which a migration is applied."""

    # The values of django-syzygy 1.x, for anything that stored them.
    PRE_DEPLOY = "pre_deploy"
    POST_DEPLOY = "post_deployment"

    @property
    def label(self) -> str:
        """Return the stage as it is printed in command output."""
        return self.name.lower().replace("_", "-")


# Stands for the value to convert in the SQL expression of a conversion
# (ExpandAlterField, ContractAlterField).
COLUMN_PLACEHOLDER = "{column}"
