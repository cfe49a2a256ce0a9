"""A real HTTP server on 127.0.0.1 (port 0) for the download tests: serves given bytes with Range
support, and can truncate, drop, redirect or answer 404. It stops by itself after a bounded number of
requests or seconds."""

from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    location: str = ""
    #: send only this many body bytes of the first `faults` answers, then close (Content-Length full)
    cut_at: int | None = None
    faults: int = 1
    honour_range: bool = True


@dataclass
class Server:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0
    max_requests: int = 50
    max_seconds: float = 60.0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Server:
        server_state = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server_state.requests.append((self.path, self.headers.get("Range")))
                route = server_state.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.location:
                    self.send_response(route.status)
                    self.send_header("Location", route.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, start = route.body, 0
                wanted = self.headers.get("Range")
                if wanted and route.honour_range and wanted.startswith("bytes="):
                    start = int(wanted[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(route.status)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if route.cut_at is not None and route.faults > 0:
                    route.faults -= 1
                    self.wfile.write(payload[: route.cut_at])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(payload)

        self._httpd = http.server.HTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.timeout = 0.1
        self.port = self._httpd.server_address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while (
            not self._stop.is_set() and time.monotonic() < deadline and len(self.requests) < self.max_requests
        ):
            self._httpd.handle_request()
        self._httpd.server_close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
