"""Every question ``makemigrations`` asks about stages, and the answers
non-interactive runs take without asking."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.core.management.color import color_style
from django.db.migrations.questioner import (
    InteractiveMigrationQuestioner,
    MigrationQuestioner,
    NonInteractiveMigrationQuestioner,
)

from . import compat, conf
from .constants import COLUMN_PLACEHOLDER, Stage
from .fields import table_name

__all__ = (
    "CONVERT",
    "EXPAND_CONTRACT",
    "InteractiveStageQuestioner",
    "InteractiveStageQuestions",
    "NonInteractiveStageQuestioner",
    "NonInteractiveStageQuestions",
    "SilentStageQuestioner",
    "SilentStageQuestions",
    "StageQuestionerMixin",
    "stage_questioner",
)

NULLABLE = None
"""The answer of ``ask_remove_default`` that makes the column NULLable."""

EXPAND_CONTRACT = "expand/contract"
"""The answer of ``ask_rename_stage`` and ``ask_table_rewrite`` that changes
a column without downtime."""

CONVERT = "conversion"
"""The answer of ``ask_table_rewrite`` that changes a column's type without
downtime, with a conversion the user gives."""


class StageQuestionerMixin(MigrationQuestioner):
    """Questions about stages; answers for non-interactive runs.

    Mixed into Django's questioners: the interactive one asks, the others
    answer with the safe default.
    """

    def warn(self, message: str) -> None:
        """Tell the user about a risk the migrations can't remove."""
        self.log_warning(color_style().WARNING(message))

    def log_warning(self, message: str) -> None:
        raise NotImplementedError  # pragma: no cover - every questioner defines it

    def ask_remove_default(
        self, app_label: str, model_name: str, field_name: str
    ) -> Any:
        """Return the database default a removed NOT NULL field keeps until its
        removal, or ``NULLABLE`` to make its column NULLable instead."""
        return NULLABLE

    def ask_rename_stage(
        self,
        description: str,
        choices: tuple[str, str, str],
        zero_downtime: str | None = None,
    ) -> Stage | str | None:
        """Return the stage of an unsafe rename, or ``None`` to quit.

        ``zero_downtime``, if given, describes a rename without downtime,
        offered first: ``EXPAND_CONTRACT`` chooses it.
        """
        return None

    def ask_rename_model(self, old_model_state: Any, new_model_state: Any) -> bool:
        # A model that keeps its table is that model renamed: never create
        # its table again and delete it.
        if table_name(old_model_state) == table_name(new_model_state):
            return True
        return bool(super().ask_rename_model(old_model_state, new_model_state))

    def ask_unpartitioned(self, app_label: str, descriptions: list[str]) -> bool:
        """Return whether to write migrations whose stage is ambiguous."""
        return conf.makemigrations_on_ambiguous() == "continue"

    def ask_table_rewrite(
        self,
        message: str,
        zero_downtime: str | None = None,
        conversion: str | None = None,
    ) -> bool | str:
        """Return whether to write a change that rewrites a table anyway.

        ``zero_downtime``, if given, describes a way without the rewrite,
        offered first: ``EXPAND_CONTRACT`` chooses it, as a non-interactive
        run does. ``conversion``, if given, describes that way with a
        conversion the user gives: ``CONVERT`` chooses it, then
        ``ask_conversion`` asks for it.
        """
        return EXPAND_CONTRACT if zero_downtime else False

    def ask_conversion(self, field: str, new_type: str) -> tuple[str, str | None]:
        """Return the SQL expressions that convert the values of ``field`` to
        ``new_type``, and back (``None``: cast them)."""
        raise NotImplementedError  # pragma: no cover - only asked interactively


class InteractiveStageQuestions(StageQuestionerMixin):
    """Ask the user; mixed into an interactive questioner."""

    prompt_output: Any

    def log_warning(self, message: str) -> None:
        self.prompt_output.write(message)

    def ask_remove_default(
        self, app_label: str, model_name: str, field_name: str
    ) -> Any:
        # Like Django's questions about defaults, a dry run doesn't ask.
        if self.dry_run:
            return NULLABLE
        choice = compat.choice_input(
            self,
            f"It is impossible to remove the non-nullable field '{field_name}' from "
            f"{model_name} in one step: the code deployed now inserts rows without "
            f"it before the column is dropped.\nPlease select a fix:",
            [
                "Provide a one-off default now: the column keeps it as a database "
                "default until it is removed",
                "Make the column NULLable until it is removed (reverting the removal "
                "then fails on rows where it is NULL)",
            ],
        )
        if choice == 1:
            return compat.ask_default(self)
        return NULLABLE

    def ask_rename_stage(
        self,
        description: str,
        choices: tuple[str, str, str],
        zero_downtime: str | None = None,
    ) -> Stage | str | None:
        self.warn(description)
        offered = list(choices) if zero_downtime is None else [zero_downtime, *choices]
        choice = compat.choice_input(self, "Please choose how to proceed:", offered)
        if zero_downtime is not None:
            if choice == 1:
                return EXPAND_CONTRACT
            choice -= 1
        return {1: None, 2: Stage.PRE_DEPLOY, 3: Stage.POST_DEPLOY}[choice]

    def ask_unpartitioned(self, app_label: str, descriptions: list[str]) -> bool:
        self.warn(_unpartitioned_message(app_label, descriptions))
        if self.dry_run:
            return True
        choice = compat.choice_input(
            self,
            "Please choose how to proceed:",
            [
                "Write the migrations; I'll give each an explicit stage, or split "
                "them, before deploying",
                "Abort; I'll make fewer model changes at a time",
            ],
        )
        return choice == 1

    def ask_table_rewrite(
        self,
        message: str,
        zero_downtime: str | None = None,
        conversion: str | None = None,
    ) -> bool | str:
        self.warn(message)
        if self.dry_run:
            return EXPAND_CONTRACT if zero_downtime else True
        ways = [
            (answer, description)
            for answer, description in (
                (EXPAND_CONTRACT, zero_downtime),
                (CONVERT, conversion),
            )
            if description
        ]
        answers: list[bool | str] = [answer for answer, _ in ways] + [False, True]
        quit = "Quit" if ways else "Quit, and change the type the expand/contract way"
        choice = compat.choice_input(
            self,
            "Please choose how to proceed:",
            [
                *(description for _, description in ways),
                quit,
                "Write it anyway; the table is small enough to be locked while "
                "it is rewritten",
            ],
        )
        return answers[choice - 1]

    def ask_conversion(self, field: str, new_type: str) -> tuple[str, str | None]:
        self.prompt_output.write(
            f"Give the SQL expression that converts a value of {field} to "
            f"{new_type}, with {COLUMN_PLACEHOLDER} for the value, such as "
            f"NULLIF({COLUMN_PLACEHOLDER}, '')::integer; PostgreSQL computes it "
            "for every row and every write of the deployed code."
        )
        conversion = self._ask_expression("Conversion: ", required=True)
        self.prompt_output.write(
            "Give the expression that converts a value back, used when the "
            "migrations are reverted; leave it empty to cast it."
        )
        reverse = self._ask_expression("Reverse conversion: ", required=False)
        return conversion, reverse or None

    def _ask_expression(self, prompt: str, required: bool) -> str:
        """Ask for an expression until it has the placeholder, or, if it isn't
        ``required``, is empty."""
        while True:
            self.prompt_output.write(prompt, ending="")
            expression = input().strip()
            if COLUMN_PLACEHOLDER in expression or not (expression or required):
                return expression
            self.prompt_output.write(
                f"The expression must contain {COLUMN_PLACEHOLDER}, for the value "
                "to convert."
            )


class NonInteractiveStageQuestions(StageQuestionerMixin):
    """Answer without asking: the safe choice, told in the log."""

    log: Callable[[str], None] | None
    verbosity: int

    def log_warning(self, message: str) -> None:
        # As Django's own non-interactive questioner does.
        if self.log is not None and self.verbosity > 0:
            self.log(message)

    def ask_remove_default(
        self, app_label: str, model_name: str, field_name: str
    ) -> Any:
        self.log_warning(
            f"The column of the removed field '{field_name}' of {model_name} is made "
            "NULLable until it is removed."
        )
        return NULLABLE

    def ask_rename_stage(
        self,
        description: str,
        choices: tuple[str, str, str],
        zero_downtime: str | None = None,
    ) -> Stage | str | None:
        self.warn(description)
        return None

    def ask_unpartitioned(self, app_label: str, descriptions: list[str]) -> bool:
        self.warn(_unpartitioned_message(app_label, descriptions))
        return super().ask_unpartitioned(app_label, descriptions)


class SilentStageQuestions(StageQuestionerMixin):
    """Answer programmatic callers, such as ``migrate`` looking for changes.

    It says nothing, and writes whatever it can.
    """

    def log_warning(self, message: str) -> None:
        pass

    def ask_unpartitioned(self, app_label: str, descriptions: list[str]) -> bool:
        return True

    def ask_table_rewrite(
        self,
        message: str,
        zero_downtime: str | None = None,
        conversion: str | None = None,
    ) -> bool | str:
        return True


def _unpartitioned_message(app_label: str, descriptions: list[str]) -> str:
    lines = "".join(f"\n  - {description}" for description in descriptions)
    return (
        f"The changes of app '{app_label}' can't be split into one pre-deploy "
        f"and one post-deploy migration:{lines}"
    )


class InteractiveStageQuestioner(
    InteractiveStageQuestions, InteractiveMigrationQuestioner
):
    """Django's interactive questioner, asking about stages too."""


class NonInteractiveStageQuestioner(
    NonInteractiveStageQuestions, NonInteractiveMigrationQuestioner
):
    """Django's non-interactive questioner, answering about stages too."""


class SilentStageQuestioner(SilentStageQuestions, MigrationQuestioner):
    """Django's programmatic questioner, answering about stages too."""


def stage_questioner(questioner: MigrationQuestioner) -> StageQuestionerMixin:
    """Return a copy of ``questioner`` that also asks about stages.

    The copy keeps the class of ``questioner``, so a questioner another
    package customised keeps its answers to Django's questions.
    """
    if isinstance(questioner, StageQuestionerMixin):
        return questioner
    if isinstance(questioner, InteractiveMigrationQuestioner):
        questions: type[StageQuestionerMixin] = InteractiveStageQuestions
    elif isinstance(questioner, NonInteractiveMigrationQuestioner):
        questions = NonInteractiveStageQuestions
    else:
        questions = SilentStageQuestions
    converted = copy.copy(questioner)
    converted.__class__ = _asking_about_stages(questions, type(questioner))
    assert isinstance(converted, StageQuestionerMixin)
    return converted


def _asking_about_stages(
    questions: type[StageQuestionerMixin], questioner_class: type[MigrationQuestioner]
) -> type[MigrationQuestioner]:
    key = (questions, questioner_class)
    if key not in _QUESTIONER_CLASSES:
        name = f"{questioner_class.__name__}AskingAboutStages"
        _QUESTIONER_CLASSES[key] = type(name, key, {})
    return _QUESTIONER_CLASSES[key]


_QUESTIONER_CLASSES: dict[
    tuple[type[StageQuestionerMixin], type[MigrationQuestioner]],
    type[MigrationQuestioner],
] = {
    (questions, questioner_class): combined
    for combined in (
        InteractiveStageQuestioner,
        NonInteractiveStageQuestioner,
        SilentStageQuestioner,
    )
    for questions, questioner_class in [combined.__bases__]
}
