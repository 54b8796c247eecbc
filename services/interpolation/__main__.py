"""`python -m services.interpolation`: serve interpolation from RADLAB_* settings."""

from shared.runtime import main

main("interpolation")
