"""Which replica answered: a name every health answer, metrics scrape and response carries.

Behind Ray Serve the name is the Serve replica's id; otherwise it is the serving process
(host:pid), so the fields exist in every mode and tell apart the workers of one machine.
"""

from __future__ import annotations

import os
import socket


class ReplicaName:
    def __init__(self, name: str | None = None) -> None:
        self._name = name

    def __str__(self) -> str:
        # Read at each use, not at construction: uvicorn workers and Serve replicas build
        # or unpickle the app in one process and serve it in another.
        return self._name or f"{socket.gethostname()}:{os.getpid()}"
