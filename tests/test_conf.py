from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from syzygy import Stage
from syzygy.conf import (
    LockPolicy,
    is_third_party_app,
    lock_policy,
    makemigrations_on_ambiguous,
    positive_seconds,
    stage_config,
)


def test_stage_config_reads_settings_at_call_time() -> None:
    with override_settings(
        MIGRATION_STAGES_OVERRIDE={"alpha.0002": Stage.POST_DEPLOY},
        MIGRATION_STAGES_FALLBACK={"beta": "PRE_DEPLOY"},
        MIGRATION_THIRD_PARTY_STAGES_FALLBACK="POST_DEPLOY",
    ):
        config = stage_config()
    assert config.overridden("alpha", "0002") is Stage.POST_DEPLOY
    assert config.fallen_back("beta", "0001") is Stage.PRE_DEPLOY
    assert config.third_party_fallback is Stage.POST_DEPLOY


def test_stage_config_defaults() -> None:
    config = stage_config()
    assert config.override == {}
    assert config.fallback == {}
    assert config.third_party_fallback is Stage.PRE_DEPLOY


def test_third_party_apps_are_those_under_site_packages() -> None:
    assert is_third_party_app(apps.get_app_config("contenttypes"))
    assert not is_third_party_app(apps.get_app_config("alpha"))
    assert {"contenttypes", "auth"} <= stage_config().third_party_apps


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "MIGRATION_STAGES_OVERRIDE",
            [("alpha", Stage.PRE_DEPLOY)],
            "MIGRATION_STAGES_OVERRIDE must be a dict mapping 'app_label' or "
            "'app_label.migration_name' to a stage, not list.",
        ),
        (
            "MIGRATION_STAGES_FALLBACK",
            {"alpha": "pre"},
            "MIGRATION_STAGES_FALLBACK['alpha'] is 'pre', which is not a stage; "
            "accepted values are syzygy.Stage.PRE_DEPLOY or "
            "syzygy.Stage.POST_DEPLOY (or the strings 'PRE_DEPLOY' and 'POST_DEPLOY').",
        ),
        (
            "MIGRATION_STAGES_OVERRIDE",
            {"alpha.0001": None},
            "MIGRATION_STAGES_OVERRIDE['alpha.0001'] is None, which is not a stage",
        ),
        (
            "MIGRATION_STAGES_OVERRIDE",
            {"alpha.0001.extra": Stage.PRE_DEPLOY},
            "MIGRATION_STAGES_OVERRIDE has the key 'alpha.0001.extra'; keys must be "
            "'app_label' or 'app_label.migration_name'.",
        ),
        (
            "MIGRATION_STAGES_FALLBACK",
            {("alpha", "0001"): Stage.PRE_DEPLOY},
            "MIGRATION_STAGES_FALLBACK has the key ('alpha', '0001')",
        ),
        (
            "MIGRATION_THIRD_PARTY_STAGES_FALLBACK",
            True,
            "MIGRATION_THIRD_PARTY_STAGES_FALLBACK is True, which is not a stage",
        ),
    ],
)
def test_invalid_stage_settings_name_the_setting_and_accepted_values(
    setting: str, value: Any, message: str
) -> None:
    with (
        override_settings(**{setting: value}),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        stage_config()
    assert message in str(raised.value)


def test_invalid_settings_are_reported_by_a_check_in_one_line_each() -> None:
    with override_settings(
        MIGRATION_STAGES_OVERRIDE={"alpha": 1},
        SYZYGY_LOCK_RETRIES=-1,
    ):
        errors = run_checks()
    assert [(error.id, error.msg) for error in errors] == [
        (
            "syzygy.E003",
            "MIGRATION_STAGES_OVERRIDE['alpha'] is 1, which is not a stage; accepted "
            "values are syzygy.Stage.PRE_DEPLOY or syzygy.Stage.POST_DEPLOY (or the "
            "strings 'PRE_DEPLOY' and 'POST_DEPLOY').",
        ),
        (
            "syzygy.E003",
            "SYZYGY_LOCK_RETRIES is -1; accepted values are whole numbers from 0.",
        ),
    ]


def test_makemigrations_on_ambiguous_setting() -> None:
    assert makemigrations_on_ambiguous() == "continue"
    with override_settings(SYZYGY_MAKEMIGRATIONS_ON_AMBIGUOUS="abort"):
        assert makemigrations_on_ambiguous() == "abort"
    with (
        override_settings(SYZYGY_MAKEMIGRATIONS_ON_AMBIGUOUS=["abort"]),
        pytest.raises(ImproperlyConfigured, match=r"is \['abort'\];"),
    ):
        makemigrations_on_ambiguous()
    with (
        override_settings(SYZYGY_MAKEMIGRATIONS_ON_AMBIGUOUS=False),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        makemigrations_on_ambiguous()
    assert str(raised.value) == (
        "SYZYGY_MAKEMIGRATIONS_ON_AMBIGUOUS is False; accepted values are "
        "'continue' and 'abort'."
    )


def test_lock_policy_defaults() -> None:
    assert lock_policy() == LockPolicy(
        lock_timeout=0.2, statement_timeout=None, retries=30, retry_delay=0.5
    )
    with override_settings(SYZYGY_LOCK_TIMEOUT=None, SYZYGY_STATEMENT_TIMEOUT=60):
        policy = lock_policy()
    assert policy.lock_timeout is None
    assert policy.statement_timeout == 60.0


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "SYZYGY_LOCK_TIMEOUT",
            "1s",
            "SYZYGY_LOCK_TIMEOUT is '1s'; accepted values are a number of seconds "
            "from 0.001 to 2147483 or None.",
        ),
        ("SYZYGY_STATEMENT_TIMEOUT", 0, "SYZYGY_STATEMENT_TIMEOUT is 0;"),
        # PostgreSQL would read 0 ms as no timeout at all.
        ("SYZYGY_LOCK_TIMEOUT", 0.0004, "SYZYGY_LOCK_TIMEOUT is 0.0004;"),
        ("SYZYGY_LOCK_TIMEOUT", float("nan"), "SYZYGY_LOCK_TIMEOUT is nan;"),
        ("SYZYGY_LOCK_RETRY_DELAY", float("inf"), "SYZYGY_LOCK_RETRY_DELAY is inf;"),
        (
            "SYZYGY_STATEMENT_TIMEOUT",
            1e10,
            "SYZYGY_STATEMENT_TIMEOUT is 10000000000.0;",
        ),
        (
            "SYZYGY_LOCK_RETRY_DELAY",
            None,
            "SYZYGY_LOCK_RETRY_DELAY is None; accepted values are a number of "
            "seconds from 0.001 to 2147483.",
        ),
        (
            "SYZYGY_LOCK_RETRIES",
            -1,
            "SYZYGY_LOCK_RETRIES is -1; accepted values are whole numbers from 0.",
        ),
        ("SYZYGY_LOCK_RETRIES", True, "SYZYGY_LOCK_RETRIES is True;"),
    ],
)
def test_invalid_lock_settings_name_the_setting_and_accepted_values(
    setting: str, value: Any, message: str
) -> None:
    with (
        override_settings(**{setting: value}),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        lock_policy()
    assert message in str(raised.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -1, "1", True])
def test_positive_seconds_rejects_what_is_not_a_duration(value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="it must be a positive number"):
        positive_seconds(value, "SYZYGY_SOMETHING")
    assert positive_seconds(2, "SYZYGY_SOMETHING") == 2.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            ["alpha"],
            "SYZYGY_STAGE_BASELINE must be a dict mapping app labels to the name of "
            "a migration of the app, as `manage.py stagebaseline` prints it, not "
            "list.",
        ),
        (
            {"alpha.0002": "0002_mixed"},
            "SYZYGY_STAGE_BASELINE has the key 'alpha.0002'; keys must be app labels.",
        ),
        (
            {"alpha": "0002_mixed.py"},
            "SYZYGY_STAGE_BASELINE['alpha'] is '0002_mixed.py'; it must be the name "
            "of a migration of the app, such as '0042_alter_author_name'.",
        ),
    ],
)
def test_bad_stage_baselines_are_refused(value: object, message: str) -> None:
    with (
        override_settings(SYZYGY_STAGE_BASELINE=value),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        stage_config()
    assert str(raised.value) == message
