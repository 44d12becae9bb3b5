"""A squash of mixed migrations kept beside them; later migrations depend on
the replaced ones, and nothing on the squash."""
