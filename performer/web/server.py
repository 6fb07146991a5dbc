"""Run the dashboard beside the live server: uvicorn in a thread of its own."""

from __future__ import annotations

import secrets
import socket
import threading
import time

import uvicorn

from performer.errors import PerformerError
from performer.web.app import create_app
from performer.web.context import WebContext

DEFAULT_PORT = 8130
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def needs_token(host: str) -> bool:
    return host not in LOOPBACK


def new_token() -> str:
    return secrets.token_urlsafe(18)


class WebServer:
    def __init__(self, context: WebContext, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        if needs_token(host) and not context.token:
            raise PerformerError(f"the dashboard on {host} would be reachable from the network: it needs a token")
        self.context, self.host, self.port = context, host, port
        self.app = create_app(context)
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="on",
                                ws_max_size=1 << 20, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> "WebServer":
        self._check_port()
        self._thread = threading.Thread(target=self._server.run, name="performer-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise PerformerError(f"the dashboard did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self

    def _check_port(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise PerformerError(f"cannot serve the dashboard on {self.host}:{self.port}: {exc.strerror}; "
                                     f"another --web-port, or --no-web") from None

    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::"):  # what a tablet on the same network types
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
                    host = s.getsockname()[0]
            except OSError:
                host = socket.gethostname()
        query = f"?token={self.context.token}" if self.context.token else ""
        return f"http://{host}:{self.port}/{query}"

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
