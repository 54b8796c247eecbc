"""Radlab test suites: unit, contract (one per port, per adapter), integration, end to end."""
