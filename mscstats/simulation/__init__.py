"""Synthetic trials and operating characteristics by simulation."""
