"""The live dashboard's HTTP server: one static page and one JSON endpoint.

Standard library only (``http.server``), bound to loopback; the page has no external
assets, because the machines it runs on have no internet. The page polls ``/api/state``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlparse

from sensorpipe_local.view import PipelineView

PAGE = "dashboard.html"
DEFAULT_LIMIT = 200


def page() -> bytes:
    return resources.files("sensorpipe_local").joinpath("static", PAGE).read_bytes()


def serve(view: PipelineView, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start serving in a daemon thread; port 0 picks a free port (see ``server_port``)."""
    body = page()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path in ("/", "/index.html"):
                self._reply(200, body, "text/html; charset=utf-8")
            elif url.path == "/api/state":
                limit = parse_qs(url.query).get("limit", [str(DEFAULT_LIMIT)])[0]
                state = view.state(int(limit) if limit.isdigit() else DEFAULT_LIMIT)
                self._reply(200, json.dumps(state).encode(), "application/json")
            elif url.path == "/healthz":
                self._reply(200, b"ok\n", "text/plain")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, code: int, data: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """The page polls every two seconds; logging each request would bury the progress
            display."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="dashboard", daemon=True).start()
    return server
