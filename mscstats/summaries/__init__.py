"""Summaries computed once, as data in results.json: descriptive, safety, estimands."""
