"""The gateway's HTTP server: uvicorn on a thread of its own, beside the services (`radlab up`) or alone."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from radlab.tokens import token_key
from services.gateway.app import build_app
from services.gateway.calls import Services, parse_targets
from shared import metrics
from shared.auth import TokenVerifier
from shared.config import Settings
from shared.logs import configure
from shared.runtime import stop_signal, wait_for

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0


class Gateway:
    """The HTTP gateway on `addr` (host:port; port 0 takes a free one, which `url` then names), forwarding each service's
    calls to its address in `targets`."""

    def __init__(self, addr: str, targets: Mapping[str, str], tokens: TokenVerifier, viewer_dir: Path | None):
        host, _, port = addr.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, int(port)))
        except (OSError, ValueError) as error:
            self._socket.close()
            raise OSError(f"the HTTP gateway cannot listen on {addr} ({getattr(error, 'strerror', None) or error}): "
                          "set RADLAB_HTTP_ADDR to a free host:port") from None
        bound = self._socket.getsockname()[1]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{bound}"
        self.services = Services(targets)
        config = uvicorn.Config(
            # Our JSON logs (log_config None) with uvicorn's warnings and errors only: its start-up chatter says less than
            # the one line that names the gateway's URL, and request timing is in the metrics.
            build_app(self.services, tokens, viewer_dir), log_config=None, log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=STOP_GRACE_S,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, name="gateway", daemon=True)

    def start(self) -> None:
        """Serve from now on; returns once requests are answered."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP gateway did not start on {self.url}; its log says why")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop taking requests, let those in flight finish (STOP_GRACE_S at most), close the channels."""
        self._server.should_exit = True
        self._thread.join(timeout=STOP_GRACE_S + 5.0)
        self._socket.close()
        self.services.close()


def serve(settings: Settings) -> None:
    """`radlab serve gateway`: the gateway alone, forwarding to RADLAB_URL (and RADLAB_GATEWAY_TARGETS), until SIGTERM."""
    configure("gateway", settings.log_level)
    targets = parse_targets(settings.gateway_targets, settings.services_url)
    # Verifies tokens for /api/v1/me only (display): revocation is the services' to check, on every call they serve.
    tokens = TokenVerifier([token_key(settings.home, settings.token_key), *settings.token_previous_keys], settings.token_max_ttl_s)
    gateway = Gateway(settings.http_addr, targets, tokens, settings.viewer_dir)
    metrics.serve(settings.metrics_host, settings.metrics_port)
    stop = stop_signal()
    gateway.start()
    ready = {"ready": True, "services": ["gateway"], "http": gateway.url, "targets": targets,
             "metrics": f"{settings.metrics_host}:{settings.metrics_port}"}
    print(json.dumps(ready), flush=True)
    log.info("serving", extra=ready)
    wait_for(stop)
    log.info("stopping", extra={"grace_s": STOP_GRACE_S})
    gateway.stop()
    log.info("stopped")
