"""Automatic grading of free-text explanations (exercises with kind == "freetext")."""
