"""The op tables: generated parameter sets per operator, each a small TF model converted with full-integer
quantization, run by the TFLM interpreter and, on the host, by the C kernels with the calls the ops'
lowerings plan (harness.py), compared bit for bit on many inputs. The parameter sets and their model
builders are in tables_conv.py (CONV_2D, DEPTHWISE_CONV_2D, pooling, PAD, MEAN, 16x8 FULLY_CONNECTED)
and tables_ew.py (elementwise, activation, shape and conversion ops). Used by tests/c/test_kernels_*.py
(every case, or every Nth with TFW_OP_TABLE_EVERY=N) and by bench/op_table.py (all cases, JSON summary).

Converted models are cached on disk (key: the parameter set, its builder's BUILDER_VERSION and
TensorFlow's version), so a warm run never imports TensorFlow."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import harness
import tables_conv
import tables_ew

FAMILIES = (tables_conv, tables_ew)
TABLES = tuple(t for f in FAMILIES for t in f.TABLES)
ACT_CODES = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}  # schema ActivationFunctionType


@dataclass(frozen=True)
class Case:
    table: str
    index: int
    params: dict = field(hash=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.table}-{self.index:02d}-{self.params['tag']}"


def family(table: str):
    """The module of a table's parameter sets (tables_conv or tables_ew)."""
    return next(f for f in FAMILIES if table in f.TABLES)


def cases(table: str) -> list[Case]:
    fam = family(table)
    return [Case(table, i, {**p, "seed": 1000 * fam.TABLES.index(table) + i})
            for i, p in enumerate(fam.parameter_sets(table))]


def sample(all_cases: list[Case], every: int) -> list[Case]:
    return all_cases if every <= 1 else all_cases[::every]


def every_from_env() -> int:
    """TFW_OP_TABLE_EVERY=N runs every Nth parameter set (CI); unset or 1: all of them."""
    return max(1, int(os.environ.get("TFW_OP_TABLE_EVERY", "1") or 1))


def table_params(*tables: str) -> list:
    """pytest.param per case of the tables, every Nth only with TFW_OP_TABLE_EVERY=N."""
    import pytest

    every = every_from_env()
    return [pytest.param(c, id=c.id) for t in tables for c in sample(cases(t), every)]


def check_case(case: Case, kernels, cache_dir: Path) -> Result:
    """The one test body of the op tables: every vector bit-exact."""
    result = check(case, kernels, cache_dir)
    assert result.exact == result.vectors, f"{case.id}: {result.first_mismatch}"
    return result


# ---- models ------------------------------------------------------------------------------------

def import_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf  # imported lazily: it is slow
    return tf


def tf_version() -> str:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?"


def repack(raw: bytes, edit) -> bytes:
    """The model after edit(ModelT) (the flatbuffer object API), packed again."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    model = fb.ModelT.InitFromPackedBuf(raw, 0)
    edit(model)
    builder = flatbuffers.Builder(len(raw) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def cached(path: Path, build) -> Path:
    """path, written once (atomically) from build() -> bytes, with TensorFlow's output silenced."""
    if not path.is_file():
        from tinyml_fw.quiet import quiet_fds

        with quiet_fds():
            raw = build()
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(raw)
        tmp.replace(path)
    return path


def model_path(case: Case, cache_dir: Path) -> Path:
    """The converted (and patched) .tflite of a case, built once and cached in cache_dir."""
    fam = family(case.table)
    key = json.dumps({k: v for k, v in case.params.items() if k != "tag"}, sort_keys=True, default=list)
    digest = hashlib.sha256(f"{fam.BUILDER_VERSION}|{tf_version()}|{key}".encode()).hexdigest()[:20]
    return cached(Path(cache_dir) / f"{case.table}-{case.index:02d}-{digest}.tflite", lambda: fam.build(case.params))


# ---- the host executor ---------------------------------------------------------------------------

def plan(spec, op, lw=None):
    """The Call the op's lowering plans (the same function the generator runs), or None: no plan
    (RESHAPE, SQUEEZE, SHAPE, PACK) or folded at generate time."""
    from tinyml_fw.aot.lower import Lowering
    from tinyml_fw.aot.ops import LOWERINGS

    fn = getattr(LOWERINGS[op.op], "plan", None)
    return None if fn is None else fn(spec, op, Lowering(spec, "host") if lw is None else lw)


def plan_calls(spec) -> dict:
    """The kernel call the lowering plans for each op that runs code (op index → Call)."""
    from tinyml_fw.aot.lower import Lowering
    from tinyml_fw.aot.ops import LOWERINGS

    lw = Lowering(spec, "host")
    calls = {}
    for op in spec.ops:
        if getattr(LOWERINGS[op.op], "plan", None) is None:
            LOWERINGS[op.op](lw, op)  # aliases and folds, for the ops after it
        else:
            call = plan(spec, op, lw)
            if call is not None:
                calls[op.index] = call
    return calls


def execute(kernels, spec, feeds: dict, calls: dict) -> list[np.ndarray]:
    """Runs the model's ops on the host: planned kernel calls through ctypes, aliases as views,
    folded ops from the lowering's generate-time values. Returns the model outputs."""
    from tinyml_fw.aot.call import known
    from tinyml_fw.aot.lower import Lowering
    from tinyml_fw.aot.ops import LOWERINGS

    lw = Lowering(spec, "host")
    values = dict(feeds)
    for op in spec.ops:
        if op.index in calls:
            call = calls[op.index]
            operands = []
            for t in call.args[:-1]:
                ts = t if isinstance(t, tuple) else (t,)
                arrs = [np.ascontiguousarray(values[k] if k in values else known(lw, spec, k)) for k in ts]
                operands.append(arrs if isinstance(t, tuple) else arrs[0])
            out = np.zeros(spec.tensors[call.args[-1]].shape, harness.NUMPY[call.ctypes[-1]])
            status = kernels.call(call, operands, out)
            if status != 0:
                raise AssertionError(f"{call.kernel} returned {status}")
            values[call.args[-1]] = out
        elif op.op in ("RESHAPE", "SQUEEZE") and op.inputs[0] in values:
            LOWERINGS[op.op](lw, op)  # the lowering's own checks
            values[op.outputs[0]] = values[op.inputs[0]].reshape(spec.tensors[op.outputs[0]].shape)
        else:
            LOWERINGS[op.op](lw, op)  # folds at generate time
            for t in op.outputs:
                values[t] = lw.folded[t]
    return [values[t] for t in spec.outputs]


def golden_run(raw: bytes, feeds_list: list[dict], spec) -> list[np.ndarray]:
    """The TFLM interpreter's first output for each input set."""
    from tflite_micro import runtime

    from tinyml_fw.quiet import quiet_fds

    arena = max(64 * 1024, 8 * sum(t.nbytes for t in spec.tensors))
    with quiet_fds():
        interp = runtime.Interpreter.from_bytes(raw, arena_size=arena)
    outs = []
    for feeds in feeds_list:
        interp.reset()
        for k, t in enumerate(spec.inputs):
            interp.set_input(np.ascontiguousarray(feeds[t]).reshape(spec.tensors[t].shape), k)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), copy=True))
    return outs


# ---- checking ----------------------------------------------------------------------------------

@dataclass
class Result:
    case: str
    vectors: int
    exact: int
    ops: list
    first_mismatch: str = ""


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.uint32) if a.dtype == np.float32 else a


def check(case: Case, kernels, cache_dir: Path, n: int | None = None) -> Result:
    """Runs one case through TFLM and the C kernels (n input vectors and more, by default the
    table's own number); counts bit-exact output vectors."""
    from tinyml_fw.modelspec import read_model

    fam = family(case.table)
    path = model_path(case, cache_dir)
    spec = read_model(path)
    names = [op.op for op in spec.ops]
    fam.check_ops(case, names)
    calls = plan_calls(spec)  # before TFLM: parameters TFLM would abort on are refused here
    sets = fam.input_sets(spec, n or fam.VECTORS, case.params["seed"])
    goldens = golden_run(path.read_bytes(), sets, spec)
    exact = 0
    first = ""
    for i, (feeds, golden) in enumerate(zip(sets, goldens)):
        golden = golden.reshape(-1)
        got = execute(kernels, spec, feeds, calls)[0].reshape(-1)
        same = _bits(golden) == _bits(got)
        if same.all():
            exact += 1
        elif not first:
            at = int(np.flatnonzero(~same)[0])
            first = (f"vector {i}: {int((~same).sum())} of {same.size} values differ, e.g. at {at} "
                     f"TFLM {golden[at]!r} vs C {got[at]!r}")
    return Result(case.id, len(sets), exact, names, first)


def golden_follows(kernels, raw: bytes, path: Path, variant, n: int = 8, seed: int = 0) -> tuple[bool, bool, bool]:
    """For a (patched) model: do the C kernels with the lowering's own parameters match TFLM, do they
    with `variant` (a context manager swapping in another parameter computation), and do the two
    parameter sets give different outputs at all on these inputs?"""
    from tinyml_fw.modelspec import read_model

    path.write_bytes(raw)
    spec = read_model(path)
    feeds = tables_ew.input_sets(spec, n, seed)
    goldens = [g.reshape(-1) for g in golden_run(raw, feeds, spec)]
    ours = plan_calls(spec)
    with variant():
        theirs = plan_calls(spec)
    a = [execute(kernels, spec, f, ours)[0].reshape(-1) for f in feeds]
    b = [execute(kernels, spec, f, theirs)[0].reshape(-1) for f in feeds]
    same = lambda xs, ys: all(np.array_equal(_bits(x), _bits(y)) for x, y in zip(xs, ys))  # noqa: E731
    return same(a, goldens), same(b, goldens), not same(a, b)
