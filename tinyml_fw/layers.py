"""Per-layer diff: the device returns every layer's output for chosen vectors (protocol 3, PROBE), compared
with tflite-micro's tensors (all preserved); the first layer that departs from the reference is named.

A layer is one step of the AOT engine (one kernel call); ops folded at generate time (a RESHAPE sharing
its input's bytes) have no step and are not layers. The device runs each vector once per layer, stopping
after that layer; the differences between those runs' instruction counts are the layers' own (measured,
not estimated).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tinyml_fw.aot.lower import AotPlan, lower
from tinyml_fw.errors import BadInput, DeviceError
from tinyml_fw.golden import LayerReference
from tinyml_fw.modelspec import ModelSpec, read_model

DTYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "INT32": np.int32, "FLOAT32": np.float32}
LATENCY_SOURCE = ("measured on the device: instructions of runs stopped after each layer, each layer the "
                  "difference from the run stopped one layer earlier")


@dataclass(frozen=True)
class LayerRow:
    index: int  # the layer on the device (step of the AOT engine)
    op: str
    name: str  # the model's layer (op index, op, output tensor name)
    tensor: int  # the model tensor compared (the op's output)
    shape: list[int]
    bytes: int
    max_abs_diff: int  # over the vectors compared, in LSB of the tensor's type
    differing: int  # output elements that differ, summed over the vectors
    bit_exact: bool
    ticks: float  # the layer's own ticks, mean over the vectors
    instructions: float | None  # the same as instructions on an emulated board


@dataclass(frozen=True)
class LayerDiff:
    vectors: list[int]
    layers: list[LayerRow]
    first_divergent_layer: int | None  # index into layers
    first_divergent_vector: int | None
    latency_source: str

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def first(self) -> LayerRow | None:
        return None if self.first_divergent_layer is None else self.layers[self.first_divergent_layer]


def device_plan(link, project, flag: str) -> tuple[ModelSpec, AotPlan]:
    """The project's model and AOT plan, whose steps are the layers of the linked device (checked)."""
    if project.runtime != "aot":
        raise BadInput(f"{flag} needs the AOT runtime (this project runs {project.runtime}: its interpreter "
                       "runs the whole graph in one call). Generate with --runtime aot.")
    spec = read_model(project.model_path)
    plan = lower(spec, project.name)
    count = link.layers()
    if count != len(plan.steps):
        raise DeviceError(f"The device reports {count} layers; the project's plan has {len(plan.steps)}: its "
                          "firmware is of another plan. Build the project again.")
    return spec, plan


def layer_diff(link, project, model: bytes, xq: np.ndarray, vectors: list[int], board, log=print) -> LayerDiff:
    """Runs `vectors` (indices into xq) layer by layer on the linked device; compares with tflite-micro."""
    spec, plan = device_plan(link, project, "--layers")
    count = len(plan.steps)
    bad = [v for v in vectors if not 0 <= v < len(xq)]
    if bad:
        raise BadInput(f"--layer-vectors {bad[0]} is not a vector of this run (0 … {len(xq) - 1}).")
    reference = LayerReference(model, len(spec.tensors))
    tensors = [step.output_tensor for step in plan.steps]
    worst = np.zeros(count, dtype=np.int64)
    differing = np.zeros(count, dtype=np.int64)
    ticks = np.zeros((len(vectors), count), dtype=np.float64)
    first: tuple[int, int] | None = None  # (layer, vector)
    for row, v in enumerate(vectors):
        expected = reference.tensors(xq[v], tensors)
        before = 0
        departs = None
        for k, step in enumerate(plan.steps):
            spent, raw = link.layer_output(xq[v].tobytes(), k)
            dtype = DTYPES.get(spec.tensors[step.output_tensor].dtype, np.int8)
            if len(raw) != step.output_bytes:
                raise DeviceError(f"Layer {k} of the device has {len(raw)} output bytes; the plan says "
                                  f"{step.output_bytes}. Build the project again.")
            got = np.frombuffer(raw, dtype=dtype)
            diff = np.abs(got.astype(np.int64) - expected[step.output_tensor].astype(np.int64))
            worst[k] = max(worst[k], int(diff.max()) if diff.size else 0)
            differing[k] += int(np.count_nonzero(diff))
            if diff.any() and departs is None:
                departs = k
                if first is None or k < first[0]:
                    first = (k, v)
            ticks[row, k] = spent - before
            before = spent
        where = None if departs is None else spec.layer_name(spec.ops[plan.steps[departs].op_index])
        log(f"Vector {v}: " + ("every layer bit-exact" if where is None else f"departs from tflite-micro at {where}"))
    mean_ticks = ticks.mean(axis=0) if len(vectors) else np.zeros(count)
    rows = []
    for k, step in enumerate(plan.steps):
        op = spec.ops[step.op_index]
        t = spec.tensors[step.output_tensor]
        rows.append(LayerRow(k, op.op, spec.layer_name(op), step.output_tensor, [int(d) for d in t.shape],
                             step.output_bytes, int(worst[k]), int(differing[k]), bool(differing[k] == 0),
                             float(mean_ticks[k]), board.instructions(float(mean_ticks[k]))))
    return LayerDiff(list(vectors), rows, None if first is None else first[0], None if first is None else first[1],
                     LATENCY_SOURCE)
