"""Ingestion's pure rules: series grouping and geometry, volume building (its issue adds them)."""
