"""The benchmarks' HTTP client: one keep-alive HTTP/1.1 connection per simulated user.

The load generator runs on the cores it measures, so what it costs per request is taken
from the service's throughput. On two cores httpx's client cost a third of the fast
mode's throughput at concurrency 8 (87.8 against 122–127 queries/s from this client,
one worker), so the benches use the standard library's connection instead.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_S = 60.0


class Connection:
    """POSTs JSON to one server over one connection, reopened after a failure."""

    def __init__(self, url: str, timeout_s: float = TIMEOUT_S) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._timeout_s = timeout_s
        self._conn = self._open()

    def _open(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)

    def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """The status and body of the answer; raises OSError or HTTPException on a
        broken connection, after which the next call reconnects."""
        try:
            self._conn.request(
                "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            response = self._conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = self._open()
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
