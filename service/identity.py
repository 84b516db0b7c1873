"""Which replica answered: a name every health answer, metrics scrape and response carries.

Behind Ray Serve the name is the Serve replica's id; otherwise it is the serving process
(host:pid), so the fields exist in every mode and tell apart the workers of one machine.
"""

from __future__ import annotations

import os
import socket


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ReplicaName:
    def __init__(self, name: str | None = None) -> None:
        self._name = name
        self._found: tuple[int, str] = (0, "")  # (pid, its name): one assignment, thread-safe

    def __str__(self) -> str:
        if self._name:
            return self._name
        # Found in the process that serves, not the one that built the app (uvicorn workers
        # and Serve replicas build or unpickle it elsewhere); once per process, not per
        # request.
        pid, process = self._found
        if pid != os.getpid():
            pid, process = self._found = os.getpid(), this_process()
        return process
