"""Removals run pre-deploy by the user's decision: a Migration.stage, and
stages set by MIGRATION_STAGES_OVERRIDE and MIGRATION_STAGES_FALLBACK."""
