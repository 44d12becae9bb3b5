"""A squashed migration of mixed stages whose replaced migrations are gone."""
