"""Annotation's pure rules: datasets and (later) classes, items, versioned annotations with provenance."""
