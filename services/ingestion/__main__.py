"""`python -m services.ingestion`: serve ingestion from RADLAB_* settings."""

from shared.runtime import main

main("ingestion")
