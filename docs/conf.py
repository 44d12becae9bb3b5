"""Sphinx configuration of the syzygy documentation."""

from __future__ import annotations

from importlib.metadata import version as installed_version

from sphinx.application import Sphinx

project = "syzygy"
author = "syzygy contributors"
copyright = "syzygy contributors"
release = installed_version("django-syzygy")
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
exclude_patterns = ["_build"]
root_doc = "index"
default_role = "literal"
highlight_language = "python3"
pygments_style = "sphinx"

html_theme = "alabaster"
html_title = f"syzygy {release}"


def setup(app: Sphinx) -> None:
    """Add the ``setting`` target and role, as Django's documentation has."""
    app.add_crossref_type(
        directivename="setting",
        rolename="setting",
        indextemplate="pair: %s; setting",
    )
