"""A loopback HTTP server for tests: real clients talk to it instead of the internet.

A test gives :class:`LoopbackServer` a handler that answers one request (path and query) in
the wire format of the service it imitates; the server records every request and can inject
faults into the next matching ones::

    server = LoopbackServer(handler)
    server.faults.append(Fault("status", path="/v5/market/kline", status=429, retry_after=1))
    ... point the client at server.url ...
    assert [path for path, query in server.requests].count("/v5/market/kline") == 3
    server.close()

Faults (``Fault.kind``):

- ``"status"``: answer ``status`` (with a ``Retry-After`` header when ``retry_after`` is set)
  and ``body`` instead of calling the handler;
- ``"slow"``: wait ``delay`` seconds, then answer normally;
- ``"truncate"``: answer the handler's body cut to ``keep`` of its bytes, with a matching
  ``Content-Length`` (the client receives a complete but malformed document);
- ``"disconnect"``: announce the full ``Content-Length``, send ``keep`` of the body and close
  the connection (the client sees a broken transfer);
- ``"transform"``: answer ``transform(path, query, body)`` instead of the handler's body.

Each fault applies to the next ``times`` requests whose path starts with ``path`` and, when
``when`` is given, whose query it accepts; ``times=None`` keeps it forever.

POST requests (Yahoo's news endpoint takes a JSON body) go to ``post_handler(path, query,
body)`` when one is given, and are recorded and faulted like GETs; without one they get 405.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Query = dict[str, str]


@dataclass
class Response:
    """What a handler answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


Handler = Callable[[str, Query], Response]
PostHandler = Callable[[str, Query, bytes], Response]


@dataclass
class Fault:
    """A fault to inject into the next matching requests (see the module docstring)."""

    kind: str
    path: str = "/"
    times: int | None = 1
    status: int = 500
    retry_after: float | None = None
    body: bytes = b'{"error":"injected fault"}'
    delay: float = 0.0
    keep: float = 0.5
    when: Callable[[Query], bool] | None = None
    transform: Callable[[str, Query, bytes], bytes] | None = None

    KINDS = ("status", "slow", "truncate", "disconnect", "transform")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; kinds are {', '.join(self.KINDS)}")

    def matches(self, path: str, query: Query) -> bool:
        return path.startswith(self.path) and (self.when is None or self.when(query))


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port) answering with ``handler``, in a background thread.

    ``url`` is its base URL, ``requests`` every ``(path, query)`` received in order (faulted
    ones included), ``faults`` the queue of :class:`Fault` still to apply.
    """

    def __init__(self, handler: Handler, post_handler: PostHandler | None = None) -> None:
        self.handler = handler
        self.post_handler = post_handler
        self.requests: list[tuple[str, Query]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self._server.daemon_threads = True
        # A short poll interval: close() waits for the serving loop to notice, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="loopback-http", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def paths(self, prefix: str = "/") -> list[str]:
        """The paths requested so far that start with ``prefix``."""
        return [path for path, _ in self.requests if path.startswith(prefix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take_fault(self, path: str, query: Query) -> Fault | None:
        with self._lock:
            self.requests.append((path, query))
            for fault in self.faults:
                if fault.matches(path, query):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def _answer(self, path: str, query: Query, body: bytes | None) -> Response:
        if body is None:
            return self.handler(path, query)
        if self.post_handler is None:
            return Response(405, b"POST not supported by this loopback server")
        return self.post_handler(path, query, body)

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve(self.rfile.read(length) if length else b"")

            def _serve(self, body: bytes | None) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                fault = server._take_fault(parts.path, query)
                if fault is not None and fault.kind == "status":
                    headers = {"Content-Type": "application/json"}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = f"{fault.retry_after:g}"
                    self._send(Response(fault.status, fault.body, headers))
                    return
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.delay)
                response = server._answer(parts.path, query, body)
                if fault is not None and fault.kind == "transform" and fault.transform is not None:
                    response.body = fault.transform(parts.path, query, response.body)
                if fault is not None and fault.kind == "truncate":
                    response.body = response.body[: int(len(response.body) * fault.keep)]
                if fault is not None and fault.kind == "disconnect":
                    self._send(response, cut=int(len(response.body) * fault.keep))
                    return
                self._send(response)

            def _send(self, response: Response, cut: int | None = None) -> None:
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(response.body if cut is None else response.body[:cut])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return RequestHandler


UNRESOLVABLE_URL = "http://nonexistent.invalid:8080"
"""A base URL whose host name never resolves (``.invalid`` is reserved, RFC 2606)."""


@contextmanager
def refusing_url() -> Iterator[str]:
    """A loopback base URL where every connection is refused.

    The port stays bound (without listening) while the block runs, so no other process can
    take it and answer: connecting to a bound socket that does not listen is refused at once.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
