"""What a rehearsal found: a row per release migration, and the failing queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .traffic import Failure

__all__ = ("FailingQuery", "MigrationStep", "Report")

PRE_DEPLOY = "pre-deploy"
ROLLOUT = "rollout"
POST_DEPLOY = "post-deploy"


@dataclass(frozen=True)
class FailingQuery:
    """A query that failed, the step of the deploy from which it failed, and
    the migration responsible: the one after which it started failing (or,
    at the rollout, the migration that touches its model and was not applied
    yet, for the new code, or was, for the old code)."""

    failure: Failure
    step: str
    migration: str | None

    def as_document(self) -> dict[str, Any]:
        """Return the query as an entry of ``--format json``."""
        return {
            "side": self.failure.side,
            "model": self.failure.model,
            "operation": self.failure.operation,
            "step": self.step,
            "migration": self.migration,
            "error": self.failure.error,
            "message": self.failure.message,
        }


@dataclass
class MigrationStep:
    """A migration of the release as the rehearsal applied it."""

    migration: str
    stage: str
    # The longest write of the app while it ran, in seconds; measured only
    # where the app's queries run during migrations (PostgreSQL).
    stall: float | None = None


@dataclass
class Report:
    """Everything a rehearsal found."""

    database: str
    vendor: str
    rows: int
    deployed: int = 0
    migrations: list[MigrationStep] = field(default_factory=list)
    failures: list[FailingQuery] = field(default_factory=list)
    # Queries that already fail with the deployed migrations alone: the
    # rehearsal can't tell anything about them.
    not_rehearsed: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Return whether no query failed."""
        return not self.failures

    def failure_count(self, step: str, migration: str | None = None) -> int:
        """Return how many queries started failing at ``step`` (after
        ``migration``, outside of the rollout)."""
        return sum(
            1
            for query in self.failures
            if query.step == step and (step == ROLLOUT or query.migration == migration)
        )

    def rows_by_step(self) -> list[tuple[str, str, float | None, int]]:
        """Return the table of the report: each migration, with the rollout
        between the pre-deploy and the post-deploy ones."""
        table: list[tuple[str, str, float | None, int]] = []
        rollout_shown = False
        for step in self.migrations:
            if step.stage == POST_DEPLOY and not rollout_shown:
                table.append(
                    (f"({ROLLOUT})", ROLLOUT, None, self.failure_count(ROLLOUT))
                )
                rollout_shown = True
            table.append(
                (
                    step.migration,
                    step.stage,
                    step.stall,
                    self.failure_count(step.stage, step.migration),
                )
            )
        if self.migrations and not rollout_shown:
            table.append((f"({ROLLOUT})", ROLLOUT, None, self.failure_count(ROLLOUT)))
        return table

    def as_document(self) -> dict[str, Any]:
        """Return the report as the document ``--format json`` prints."""
        return {
            "database": self.database,
            "vendor": self.vendor,
            "rows": self.rows,
            "deployed_migrations": self.deployed,
            "passed": self.passed,
            "migrations": [
                {
                    "migration": step.migration,
                    "stage": step.stage,
                    "stall": step.stall,
                    "failures": self.failure_count(step.stage, step.migration),
                }
                for step in self.migrations
            ],
            "rollout_failures": self.failure_count(ROLLOUT),
            "failures": [query.as_document() for query in self.failures],
            "not_rehearsed": [
                {
                    "side": failure.side,
                    "model": failure.model,
                    "operation": failure.operation,
                    "error": failure.error,
                    "message": failure.message,
                }
                for failure in self.not_rehearsed
            ],
            "notes": self.notes,
        }
