"""Writes for the search app, split by topic: cases, enrollment, searching."""
