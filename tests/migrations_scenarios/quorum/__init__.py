"""Migrations that record each run of their steps in ``alpha_applylog``."""
