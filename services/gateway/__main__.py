"""`python -m services.gateway`: serve the HTTP gateway alone from RADLAB_* settings."""

from services.gateway.server import serve
from shared.config import Settings

serve(Settings.from_env())
