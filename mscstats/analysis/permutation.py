"""permutation methods (in progress)."""

METHODS: dict = {}
