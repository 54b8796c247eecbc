"""`python -m services.anonymization`: serve anonymization from RADLAB_* settings."""

from shared.runtime import main

main("anonymization")
