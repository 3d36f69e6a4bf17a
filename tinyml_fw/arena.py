"""The TFLM tensor arena a model needs, measured with the tflite-micro interpreter.

The smallest working arena is found by search, each trial in its own process: a too-small arena can
crash the interpreter, and a crash must not take tinyml-fw down. The interpreter runs on this 64-bit host,
where pointers and TFLM's bookkeeping are larger: the figure is an upper bound for 32-bit targets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

STEP = 16
LIMIT = 64 << 20

_TRIAL = """
import sys
import numpy as np
from tflite_micro import runtime
it = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(), arena_size=int(sys.argv[2]))
d = it.get_input_details(0)
it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), 0)
it.invoke()
print("ok")
"""


def _works(model: Path, size: int) -> bool:
    try:
        result = subprocess.run([sys.executable, "-c", _TRIAL, str(model), str(size)], capture_output=True,
                                text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and result.stdout.strip() == "ok"


def smallest_arena(model: str | Path) -> int | None:
    """The smallest arena (multiple of 16 bytes) in which the model allocates and runs, or None."""
    model = Path(model)
    hi = 1024
    while not _works(model, hi):
        hi *= 2
        if hi > LIMIT:
            return None
    lo = hi // 2 if hi > 1024 else 0  # lo fails (or is 0), hi works
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // STEP * STEP
        if mid <= lo:
            break
        if _works(model, mid):
            hi = mid
        else:
            lo = mid
    return hi


def measured_arena(model: str | Path) -> int | None:
    """smallest_arena(model), remembered per model content in $TINYML_FW_HOME/arena (a search takes
    seconds: generate, analyze and the tests ask for the same models again and again)."""
    import hashlib
    import json
    import os

    from tinyml_fw.paths import home

    raw = Path(model).read_bytes()
    cached = home() / "arena" / f"{hashlib.sha256(raw).hexdigest()}.json"
    try:
        return json.loads(cached.read_text())["smallest_arena"]
    except (OSError, ValueError, KeyError):
        pass
    size = smallest_arena(model)
    if size is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"smallest_arena": size, "step": STEP}) + "\n")
        tmp.replace(cached)
    return size
