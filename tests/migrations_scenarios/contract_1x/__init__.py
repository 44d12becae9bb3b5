"""Migrations and apps for ``tests/test_contract_1x.py``.

django-syzygy 1.2.3's test suite ran on migration packages
(``tests/test_migrations/<case>/``) that its sdist doesn't ship; these
reproduce them, as far as its tests tell, for the apps ``alpha`` and
``beta`` (``use_scenario("contract_1x.<case>")``):

``functional``
   ``0001_pre_deploy`` then ``0002_post_deploy``, and a ``RunSQL`` migration
   staged ``POST_DEPLOY`` as in 1.x's README; each step logs its run in
   ``alpha_applylog``.
``crash``
   a migration that fails with ``RuntimeError("Test crash")``.
``empty``
   a migrations package without migrations.
``legacy_operations``
   ``syzygy.operations.RenameModel(stage=...)`` as 1.x's makemigrations
   wrote it (``legacy_1x`` holds the other 1.x operations).

The module also uses the scenarios ``ambiguous``, ``explicit_stages`` and
``cross_app`` that the other tests share.

``null_field_removal``, ``field_addition`` and ``merge_conflict`` are apps
for ``makemigrations``: ``models.py`` holds the new models and
``migrations_before/`` the migrations of the old ones.
"""
