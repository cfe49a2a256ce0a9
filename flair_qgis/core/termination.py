"""SIGTERM and SIGHUP (a job scheduler stopping a run, a closed terminal) turned into a clean cancel: the
command line and `qgis_process` both use it, so that a stopped run leaves nothing at its outputs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

#: The signals that stop a run: SIGTERM, and SIGHUP where the system has it.
TERMINATING = (signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


@contextlib.contextmanager
def on_termination(handler: Callable[[int], None]) -> Iterator[None]:
    """While the block runs on the main thread, each of TERMINATING calls `handler(signal number)` (which
    may raise to unwind the run); the previous handlers come back after it. Off the main thread, where
    Python cannot install handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, lambda n, frame: handler(n)) for number in TERMINATING}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
