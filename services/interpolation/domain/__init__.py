"""Interpolation's pure rules: shape-based and image-guided slice filling (its issue adds them)."""
