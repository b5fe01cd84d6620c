"""A loopback HTTP server that records every request: the SSRF canary."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Canary:
    """Counts hits; ``/redirect`` answers 302 to ``/after-redirect`` to test redirects."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.hits: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def canary_server() -> Iterator[Canary]:
    holder: list[Canary] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            holder[0].hits.append(self.path)
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/after-redirect")
                self.end_headers()
                return
            body = b"body { color: red }"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Canary(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


def assert_canary_works(canary: Canary) -> None:
    """The canary must be reachable, or a zero hit count proves nothing."""
    import urllib.request

    with urllib.request.urlopen(f"{canary.url}/probe", timeout=5) as response:  # noqa: S310
        assert response.status == 200
    assert canary.hits == ["/probe"]
    canary.hits.clear()
