"""The whole platform as separate processes, driven like a user would."""
