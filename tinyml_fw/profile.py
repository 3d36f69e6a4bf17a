"""Per-layer profile: the device times every layer of one run (protocol 4, PROFILE) and returns the ticks;
shown by `validate --profile`, in `--json` and in the report.

Unlike the per-layer diff's latency (layers.py: the differences between runs stopped after each layer),
a profile takes one run per vector, timed layer by layer on the device. Each layer's ticks run from the
timer reading before its kernel call to the reading after it, less what timing a layer that does nothing
costs (measured at boot), so the layers add up to the whole inference's count: the total is set beside
the same vectors' untimed runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tinyml_fw.analyze import op_macs
from tinyml_fw.layers import device_plan

SOURCE = ("measured on the device in one run per vector: the timer read between layers, less the cost of "
          "timing an empty layer")


@dataclass(frozen=True)
class ProfileRow:
    index: int  # the layer on the device (step of the AOT engine)
    op: str
    name: str
    macs: int
    ticks: float  # mean over the vectors profiled
    instructions: float | None  # on an emulated board (QEMU -icount)
    us: float | None  # on a board whose timer is true time
    instructions_per_mac: float | None
    share: float  # of the layers' total


@dataclass(frozen=True)
class Profile:
    vectors: list[int]
    layers: list[ProfileRow]
    total_ticks: float  # the layers' sum, mean over the vectors
    run_ticks: float  # the same vectors' untimed runs (the whole-inference count), mean
    total_instructions: float | None
    run_instructions: float | None
    difference: float  # (total - run) / run
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


def layer_profile(link, project, xq: np.ndarray, vectors: list[int], run_ticks: list[int], board,
                  us_per_tick: float | None) -> Profile:
    """Profiles `vectors` (indices into xq) on the linked device; `run_ticks` are their untimed runs' ticks."""
    spec, plan = device_plan(link, project, "--profile")
    count = len(plan.steps)
    ticks = np.zeros((len(vectors), count), dtype=np.float64)
    for row, v in enumerate(vectors):
        _, times = link.profile(xq[v].tobytes())
        ticks[row] = times.ticks
    mean = ticks.mean(axis=0)
    total = float(mean.sum())
    run = float(np.mean(run_ticks))
    rows = []
    for k, step in enumerate(plan.steps):
        op = spec.ops[step.op_index]
        macs = op_macs(spec, op)
        instructions = board.instructions(float(mean[k]))
        rows.append(ProfileRow(k, op.op, spec.layer_name(op), macs, float(mean[k]), instructions,
                               float(mean[k]) * us_per_tick if us_per_tick else None,
                               round(instructions / macs, 3) if instructions is not None and macs else None,
                               float(mean[k]) / total if total else 0.0))
    return Profile(list(vectors), rows, total, run, board.instructions(total), board.instructions(run),
                   (total - run) / run if run else 0.0, SOURCE)
