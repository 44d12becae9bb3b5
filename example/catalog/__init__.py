"""The catalog of the shop, whose migrations tell the story of two releases."""
