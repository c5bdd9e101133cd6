"""compare methods (in progress)."""

METHODS: dict = {}
