"""The project of the example: settings only."""
