"""Corpus preparation recipes: each writes label files in a task's format."""
