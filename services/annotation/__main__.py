"""`python -m services.annotation`: serve annotation from RADLAB_* settings."""

from shared.runtime import main

main("annotation")
