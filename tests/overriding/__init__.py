"""An app whose commands override migrate (hiding syzygy's) and
makemigrations (combining syzygy's with its own)."""
