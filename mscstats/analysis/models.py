"""models methods (in progress)."""

METHODS: dict = {}
