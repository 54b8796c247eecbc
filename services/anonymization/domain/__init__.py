"""Anonymization's pure rules: the PS3.15 confidentiality profile (its issue adds them)."""
