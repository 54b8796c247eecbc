"""Radlab's six services; each is one deployable package and imports no other service."""
