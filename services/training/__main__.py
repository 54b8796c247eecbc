"""`python -m services.training`: serve training from RADLAB_* settings."""

from shared.runtime import main

main("training")
