"""The trial: read files, validate them, the Trial and its data-quality log."""
