"""Numerical cores on plain arrays: no SAP, no DataFrame of the trial."""
