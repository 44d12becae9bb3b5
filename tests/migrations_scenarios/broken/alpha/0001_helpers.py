"""Not a migration: Django's loader reports it, the stage check skips it."""
