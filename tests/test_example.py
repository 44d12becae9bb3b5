"""Run the deploy of the example project, as its README shows, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEPLOY_SCRIPT = Path(__file__).resolve().parent.parent / "example" / "deploy.sh"
PRE = "catalog.0002_product_currency_set_nullable_product_legacy_code"
POST = "catalog.0003_drop_db_default_product_currency_remove_product_legacy_code"
HEADER = "===== "


def run_deploy(database: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``bash example/deploy.sh`` on ``database`` with this interpreter."""
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "EXAMPLE_DATABASE": str(database),
        # Not the test suite's settings, which pytest-django exported.
        "DJANGO_SETTINGS_MODULE": "shop.settings",
    }
    return subprocess.run(
        ["bash", str(DEPLOY_SCRIPT)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def steps(output: str) -> dict[str, list[str]]:
    """Return the lines of each step of the output, by the step's number."""
    sections: dict[str, list[str]] = {"": []}
    current = sections[""]
    for line in output.splitlines():
        if line.startswith(HEADER):
            current = sections.setdefault(line.removeprefix(HEADER).split(".")[0], [])
        else:
            current.append(line.strip())
    return sections


def following(lines: list[str], line: str) -> list[str]:
    """Return the lines after ``line``, which must be among ``lines``."""
    assert line in lines, f"{line!r} not in {lines}"
    return lines[lines.index(line) + 1 :]


def test_example_deploy_sequence_applies_pre_then_post_deploy_migrations(
    tmp_path: Path,
) -> None:
    database = tmp_path / "example.sqlite3"

    result = run_deploy(database, cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert database.exists()
    output = steps(result.stdout)
    assert f"Database: {database}" in output[""]
    assert set(output) >= {"0", "1", "2", "3"}

    # 0. The database of release 1.
    assert "Applying catalog.0001_initial... OK" in output["0"]
    assert "1 | Teapot | 25 | TP-1" in output["0"]

    # 1. The pre-deploy plan keeps 0002 and postpones 0003, and so does migrate.
    pre_deploy = output["1"]
    planned = following(pre_deploy, "$ manage.py migrate --pre-deploy --plan")
    assert planned[:2] == ["Planned operations:", f"{PRE}  [pre-deploy, inferred]"]
    assert following(planned, "Postponed until after the deploy:")[0] == (
        f"{POST}  [post-deploy, inferred]"
    )
    migrated = following(pre_deploy, "$ manage.py migrate --pre-deploy")
    assert f"Applying {PRE}... OK" in migrated
    assert f"Applying {POST}" not in "\n".join(migrated)
    assert following(migrated, "Postponed until after the deploy:")[0] == POST
    # Release 1's INSERT, without currency, works: the database default fills it.
    inserted = following(
        migrated, "Release 1 is still running, and its INSERT still works:"
    )
    assert inserted[1] == "-> OK, row inserted"
    assert "currency varchar(3) NOT NULL DEFAULT 'EUR'" in inserted[2]
    assert "legacy_code varchar(20) NULL" in inserted[2]
    assert "2 | Mug | 8 | EUR | MG-2" in inserted

    # 2. Release 2 saves a product without legacy_code, now NULLable.
    assert "-> OK, saved Kettle (40.00 EUR)" in output["2"]
    assert "3 | Kettle | 40 | EUR | None" in output["2"]

    # 3. The post-deploy plan holds 0003 alone, and migrate applies it.
    post_deploy = output["3"]
    planned = following(post_deploy, "$ manage.py migrate --plan")
    assert planned[:3] == [
        "Planned operations:",
        f"{POST}  [post-deploy, inferred]",
        "Drop database DEFAULT of field currency on product",
    ]
    assert f"Applying {POST}... OK" in post_deploy
    assert following(post_deploy, "$ manage.py showmigrations catalog")[:4] == [
        "catalog",
        "[X] 0001_initial",
        f"[X] {PRE.removeprefix('catalog.')}",
        f"[X] {POST.removeprefix('catalog.')}",
    ]
    columns = next(line for line in post_deploy[::-1] if "catalog_product:" in line)
    assert "legacy_code" not in columns
    assert "DEFAULT" not in columns
    assert "4 | Tray | 40 | EUR" in post_deploy
