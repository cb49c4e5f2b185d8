"""A small threaded HTTP proxy on 127.0.0.1 that drops or 500s a share of S3 requests."""

from __future__ import annotations

import http.client
import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

ERROR_XML = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
             b"<Message>injected fault</Message></Error>")


@dataclass
class Faults:
    """What to break: a share of requests (optionally only those matching method and path)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("drop-before", "drop-after", "500")  # or "<status> <Code>"
    match: str = ""  # regex on "METHOD path", empty = every request
    seed: int = 0
    injected: list[str] = field(default_factory=list)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def pick(self, line: str) -> str | None:
        if self.match and not re.search(self.match, line):
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
            self.injected.append(f"{kind} {line}")
            return kind


def _handler(upstream: str, faults: Faults) -> type[BaseHTTPRequestHandler]:
    target = urlparse(upstream)
    host = target.hostname or ""  # an http://host:port URL: never empty

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = faults.pick(f"{self.command} {self.path}")
            if kind == "drop-before":
                self.close_connection = True
                self.connection.close()
                return
            if kind and kind[0].isdigit():  # "500", or "<status> <S3 error code>"
                status, _, code = kind.partition(" ")
                body = ERROR_XML.replace(b"InternalError", (code or "InternalError").encode())
                self.send_response(int(status))
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
            conn = http.client.HTTPConnection(host, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items()}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            if kind == "drop-after":  # the server did it; the client never hears
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

    return Handler


@contextmanager
def faulty_proxy(upstream: str, faults: Faults) -> Iterator[str]:
    """Serve the proxy on a free port; yields its endpoint URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, faults))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
