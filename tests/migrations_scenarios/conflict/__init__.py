"""Two leaves: migrations of two branches, not merged yet."""
