"""A table moved from one app to another by the state alone, and a swappable
model: the lint knows which tables exist."""
