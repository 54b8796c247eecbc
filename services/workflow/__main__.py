"""`python -m services.workflow`: serve workflow from RADLAB_* settings."""

from shared.runtime import main

main("workflow")
