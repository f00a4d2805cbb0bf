"""Shared pytest fixtures live in tests/fixtures.py, for app tests and cross-app tests alike."""

pytest_plugins = ["tests.fixtures"]
