"""competing methods (in progress)."""

METHODS: dict = {}
