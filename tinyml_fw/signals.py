"""Starting a child process without leaking it when a signal lands mid-start.

A Ctrl-C (or SIGTERM, SIGHUP) that arrives while `subprocess.Popen()` runs, after the fork, raises in the
parent before Popen returns: the child is running but nobody holds its Popen, so nothing can stop it.
`deferred_signals()` holds those signals back for the few milliseconds of a start; they are delivered,
to the handlers in place, as soon as the block ends (by then the caller has the Popen and stops it).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    pending: list[int] = []
    previous = {}
    for sig in SIGNALS:
        handler = signal.getsignal(sig)
        if handler is None or handler is signal.SIG_IGN:  # not set from Python, or ignored: left alone
            continue
        previous[sig] = handler
        signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in pending:
            signal.raise_signal(signum)
