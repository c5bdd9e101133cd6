"""survival methods (in progress)."""

METHODS: dict = {}
