"""Endpoints from the trial: daily values, the rules, the subject x day grid."""
