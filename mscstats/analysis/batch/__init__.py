"""The cores over a leading replicate axis (simulation, permutation)."""
