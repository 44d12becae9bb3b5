from __future__ import annotations

from io import StringIO

import pytest
from django.core.management.base import OutputWrapper
from django.db.migrations.questioner import (
    InteractiveMigrationQuestioner,
    MigrationQuestioner,
    NonInteractiveMigrationQuestioner,
)

from syzygy.questioner import (
    EXPAND_CONTRACT,
    NULLABLE,
    InteractiveStageQuestioner,
    NonInteractiveStageQuestioner,
    NonInteractiveStageQuestions,
    SilentStageQuestioner,
    stage_questioner,
)


def test_interactive_questioner_keeps_its_output_and_settings() -> None:
    output = OutputWrapper(StringIO())
    questioner = InteractiveMigrationQuestioner(
        defaults={"ask_initial": True}, specified_apps={"alpha"}, prompt_output=output
    )
    converted = stage_questioner(questioner)
    assert type(converted) is InteractiveStageQuestioner
    assert converted.prompt_output is output
    assert converted.defaults == {"ask_initial": True}
    assert converted.specified_apps == {"alpha"}


def test_non_interactive_questioner_keeps_its_log() -> None:
    logged: list[str] = []
    questioner = NonInteractiveMigrationQuestioner(verbosity=2, log=logged.append)
    converted = stage_questioner(questioner)
    assert type(converted) is NonInteractiveStageQuestioner
    assert converted.verbosity == 2
    converted.warn("careful")
    assert logged == ["careful"]


def test_programmatic_questioner_answers_silently() -> None:
    converted = stage_questioner(MigrationQuestioner(dry_run=True))
    assert type(converted) is SilentStageQuestioner
    assert converted.dry_run is True
    converted.warn("nobody reads this")
    assert converted.ask_remove_default("alpha", "author", "name") is NULLABLE
    assert converted.ask_rename_stage("rename", ("quit", "pre", "post")) is None
    assert converted.ask_unpartitioned("alpha", ["Remove field x"]) is True


def test_customised_questioners_keep_their_answers() -> None:
    class Decisive(NonInteractiveMigrationQuestioner):
        def ask_not_null_addition(self, field_name: str, model_name: str) -> int:
            return 0

    questioner = Decisive(log=print)
    converted = stage_questioner(questioner)
    assert isinstance(converted, Decisive)
    assert isinstance(converted, NonInteractiveStageQuestions)
    assert converted.ask_not_null_addition("rating", "author") == 0
    assert converted is not questioner
    assert type(questioner) is Decisive
    assert type(stage_questioner(Decisive(log=print))) is type(converted)


def test_stage_questioners_are_kept() -> None:
    questioner = SilentStageQuestioner()
    assert stage_questioner(questioner) is questioner


def test_interactive_rename_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    output = StringIO()
    questioner = InteractiveStageQuestioner(prompt_output=OutputWrapper(output))
    answers = iter(["7", "3"])
    monkeypatch.setattr("builtins.input", lambda *prompt: next(answers))
    stage = questioner.ask_rename_stage("Renaming is risky.", ("quit", "pre", "post"))
    assert stage is not None
    assert stage.name == "POST_DEPLOY"
    printed = output.getvalue()
    assert "Renaming is risky." in printed
    assert " 1) quit\n 2) pre\n 3) post\n" in printed
    assert "Please select a valid option" in printed


def test_non_interactive_questioner_without_a_log_stays_quiet() -> None:
    converted = stage_questioner(NonInteractiveMigrationQuestioner(dry_run=True))
    converted.warn("nobody reads this")
    assert converted.ask_remove_default("alpha", "author", "name") is NULLABLE


def test_non_interactive_questioner_respects_verbosity_zero() -> None:
    logged: list[str] = []
    questioner = NonInteractiveMigrationQuestioner(verbosity=0, log=logged.append)
    stage_questioner(questioner).warn("careful")
    assert logged == []


@pytest.mark.parametrize(
    ("zero_downtime", "answer", "expected"),
    [
        (None, "1", False),
        (None, "2", True),
        ("Without a rewrite", "1", EXPAND_CONTRACT),
        ("Without a rewrite", "2", False),
        ("Without a rewrite", "3", True),
    ],
)
def test_interactive_table_rewrite_choices(
    monkeypatch: pytest.MonkeyPatch,
    zero_downtime: str | None,
    answer: str,
    expected: object,
) -> None:
    output = StringIO()
    questioner = InteractiveStageQuestioner(prompt_output=OutputWrapper(output))
    monkeypatch.setattr("builtins.input", lambda *prompt: answer)
    assert questioner.ask_table_rewrite("Rewrites.", zero_downtime) == expected
    if zero_downtime:
        assert " 1) Without a rewrite\n 2) Quit\n 3) Write it anyway" in (
            output.getvalue()
        )
