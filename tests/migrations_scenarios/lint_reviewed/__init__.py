"""Reviews recorded in migration files, and changes the lint must not report."""
