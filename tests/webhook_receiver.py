"""A real HTTP webhook receiver on loopback that fails on purpose, for the notify tests.

``plan(path, key, attempt)`` says what the receiver does with the ``attempt``-th request (1, 2,
...) for an ``Idempotency-Key`` on a path: ``(status, headers, delay_seconds)``. A 2xx is
*accepted*: recorded under its key, even when the client gave up waiting (a timeout): the
receiver did the work, which is what the idempotency key lets it recognise the next time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Plan = Callable[[str, str, int], tuple[int, dict[str, str], float]]


def always_ok(_path: str, _key: str, _attempt: int) -> tuple[int, dict[str, str], float]:
    return 200, {}, 0.0


class Receiver:
    def __init__(self, plan: Plan = always_ok) -> None:
        self.plan = plan
        self.lock = threading.Lock()
        self.attempts: dict[tuple[str, str], int] = defaultdict(int)
        self.accepted: dict[str, dict[str, list[bytes]]] = defaultdict(lambda: defaultdict(list))
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                key = self.headers.get("Idempotency-Key") or ""
                path = self.path
                with receiver.lock:
                    receiver.attempts[(path, key)] += 1
                    attempt = receiver.attempts[(path, key)]
                    request = {"path": path, "key": key, "attempt": attempt, "headers": dict(self.headers)}
                    receiver.requests.append(request)
                status, headers, delay = receiver.plan(path, key, attempt)
                with receiver.lock:
                    request.update(status=status, delay=delay, at=time.time())
                if delay:
                    time.sleep(delay)
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.accepted[path][key].append(body)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def keys(self, path: str) -> set[str]:
        with self.lock:
            return set(self.accepted.get(path, {}))
