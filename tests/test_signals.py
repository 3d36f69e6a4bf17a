"""deferred_signals: a signal during a child's start is held back, then delivered (no leaked child)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tinyml_fw.signals import deferred_signals


def test_a_signal_inside_is_delivered_after_the_block():
    started = None
    with pytest.raises(KeyboardInterrupt), deferred_signals():
        signal.raise_signal(signal.SIGINT)  # as if Ctrl-C came while Popen() ran
        started = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    assert started is not None  # the block ran to its end: the caller holds the Popen and can stop it
    started.kill()
    started.wait()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_nothing_pending_changes_nothing():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with deferred_signals():
        pass
    assert {s: signal.getsignal(s) for s in before} == before
