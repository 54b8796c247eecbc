"""Workflow's pure rules: stage graphs (and later task routing, review and consensus)."""
