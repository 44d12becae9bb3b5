"""Public migration operations.

Migration files import these names from this package
(``syzygy.operations.AddField(...)``), as those django-syzygy 1.x wrote do, so
their paths and signatures are frozen. One module per family:

- ``staged``: operations with an explicit stage, and the pre-deploy /
  post-deploy pairs of added and removed fields (django-syzygy 1.x's);
- ``concurrent``: lock-safe index, constraint and field alterations;
- ``backfill``: a column filled row by row, in batches;
- ``renames``: a column renamed in an expand and a contract step;
- ``column_types``: a column's type changed in an expand and a contract
  step;
- ``synced``: the two columns kept in sync between those steps;
- ``tables``: a table renamed in an expand and a contract step.
"""

from __future__ import annotations

from .backfill import BackfillField
from .column_types import ContractAlterField, ExpandAlterField
from .concurrent import (
    AddConstraintNotValid,
    AddIndexConcurrently,
    AlterFieldConcurrently,
    RemoveIndexConcurrently,
)
from .concurrent import OutsideTransaction as OutsideTransaction
from .renames import ContractRenameField, ExpandRenameField
from .staged import (
    AddField,
    AlterField,
    PostAddField,
    PreRemoveField,
    RenameField,
    RenameModel,
    RenameModelInState,
)
from .tables import ContractAlterModelTable, ExpandAlterModelTable

__all__ = (
    "AddConstraintNotValid",
    "AddField",
    "AddIndexConcurrently",
    "AlterField",
    "AlterFieldConcurrently",
    "BackfillField",
    "ContractAlterField",
    "ContractAlterModelTable",
    "ContractRenameField",
    "ExpandAlterField",
    "ExpandAlterModelTable",
    "ExpandRenameField",
    "PostAddField",
    "PreRemoveField",
    "RemoveIndexConcurrently",
    "RenameField",
    "RenameModel",
    "RenameModelInState",
)

# makemigrations writes an operation's path from its class's module: keep
# it the public one.
for _operation in (OutsideTransaction, *(globals()[name] for name in __all__)):
    _operation.__module__ = __name__
del _operation
