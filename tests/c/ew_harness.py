"""Host harness of the elementwise, activation, shape and conversion kernels: builds them into a
shared library, mirrors their params structs in ctypes, and runs a planned kernel call
(tinyml_fw/aot/ops/_ew_common.Call) on numpy buffers, so the host tests run exactly the calls the
generator emits."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
KERNEL_DIR = REPO / "firmware" / "kernels"
COMMON_DIR = REPO / "firmware" / "common"
SOURCES = ["tfw_elementwise.c", "tfw_activations.c", "tfw_quantize.c", "tfw_concat.c", "tfw_strided_slice.c"]
HEADERS = [s.replace(".c", ".h") for s in SOURCES]
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"]

I32, F32 = ctypes.c_int32, ctypes.c_float


def _struct(name: str, fields: list) -> type:
    return type(name, (ctypes.Structure,), {"_fields_": fields})


def _ints(*names: str) -> list:
    return [(n, I32) for n in names]


BROADCAST = _struct("TfwBroadcast", [("dims", I32), ("shape", I32 * 6), ("stride1", I32 * 6),
                                     ("stride2", I32 * 6)])
STRUCTS = {
    "TfwAddParams": _struct("TfwAddParams", _ints(
        "input1_offset", "input2_offset", "output_offset", "left_shift", "input1_multiplier", "input1_shift",
        "input2_multiplier", "input2_shift", "output_multiplier", "output_shift", "act_min", "act_max")
        + [("bcast", BROADCAST)]),
    "TfwMulParams": _struct("TfwMulParams", _ints(
        "input1_offset", "input2_offset", "output_offset", "output_multiplier", "output_shift", "act_min",
        "act_max") + [("bcast", BROADCAST)]),
    "TfwReluParams": _struct("TfwReluParams", _ints(
        "input_offset", "output_offset", "output_multiplier", "output_shift", "act_min", "act_max", "size")),
    "TfwRelu6Params": _struct("TfwRelu6Params", _ints("zero", "six", "size")),
    "TfwLeakyReluParams": _struct("TfwLeakyReluParams", _ints(
        "input_offset", "output_offset", "identity_multiplier", "identity_shift", "alpha_multiplier",
        "alpha_shift", "size")),
    "TfwLogisticParams": _struct("TfwLogisticParams", _ints(
        "input_zero_point", "input_range_radius", "input_multiplier", "input_left_shift", "size")),
    "TfwLogisticS16Params": _struct("TfwLogisticS16Params", _ints("input_multiplier", "input_left_shift",
                                                                  "size")),
    "TfwHardSwishParams": _struct("TfwHardSwishParams", _ints(
        "input_zero_point", "output_zero_point", "output_multiplier", "output_exponent", "reluish_multiplier",
        "reluish_exponent", "size")),
    "TfwQuantizeParams": _struct("TfwQuantizeParams", [("scale", F32)] + _ints("zero_point", "size")),
    "TfwRequantizeParams": _struct("TfwRequantizeParams", _ints(
        "input_zero_point", "output_zero_point", "multiplier", "shift", "size")),
    "TfwDequantizeParams": _struct("TfwDequantizeParams", [("scale", F32)] + _ints("zero_point", "size")),
    "TfwConcatParams": _struct("TfwConcatParams", _ints("inputs", "outer") + [("chunk_bytes", I32 * 10)]),
    "TfwStridedSliceParams": _struct("TfwStridedSliceParams", [
        ("dims", I32), ("count", I32 * 5), ("step", I32 * 5), ("start", I32), ("element_bytes", I32)]),
}
STRUCTS["TfwTanhParams"] = STRUCTS["TfwLogisticParams"]
STRUCTS["TfwTanhS16Params"] = STRUCTS["TfwLogisticS16Params"]

# sizeof of every struct as the C compiler lays it out, to check the ctypes mirrors.
_SHIM = "".join(f'#include "{h}"\n' for h in HEADERS) + "".join(
    f"unsigned long shim_sizeof_{name}(void) {{ return sizeof({name}); }}\n" for name in STRUCTS)


def build(outdir: Path) -> ctypes.CDLL:
    """Compiles the kernels (warnings are errors) into outdir/libtfw_ew.so."""
    outdir = Path(outdir)
    shim = outdir / "ew_shim.c"
    shim.write_text(_SHIM)
    lib = outdir / "libtfw_ew.so"
    cmd = ["gcc", *CFLAGS, "-fPIC", "-shared", f"-I{COMMON_DIR}", f"-I{KERNEL_DIR}",
           *[str(KERNEL_DIR / s) for s in SOURCES], str(shim), "-o", str(lib)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    dll = ctypes.CDLL(str(lib))
    for name in STRUCTS:
        getattr(dll, f"shim_sizeof_{name}").restype = ctypes.c_ulong
    return dll


def cross_compile(outdir: Path, compiler: str, extra: list[str]) -> None:
    for src in SOURCES:
        cmd = [compiler, *CFLAGS, *extra, f"-I{COMMON_DIR}", f"-I{KERNEL_DIR}", "-c", str(KERNEL_DIR / src),
               "-o", str(Path(outdir) / (src + ".o"))]
        subprocess.run(cmd, check=True, capture_output=True, text=True)


def _fill(struct, fields: dict):
    names = [f[0] for f in struct._fields_]
    if list(fields) != names:
        raise AssertionError(f"{type(struct).__name__}: plan fields {list(fields)} != struct fields {names}")
    for key, value in fields.items():
        target = getattr(struct, key)
        if isinstance(value, dict):
            _fill(target, value)
        elif isinstance(value, (tuple, list)):
            setattr(struct, key, type(target)(*(int(v) for v in value)))
        elif isinstance(value, (float, np.floating)):
            setattr(struct, key, float(value))
        else:
            setattr(struct, key, int(value))
    return struct


def params(call) -> ctypes.Structure:
    return _fill(STRUCTS[call.params_type](), call.fields)


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def run_call(lib, call, operands: list, output: np.ndarray) -> int:
    """Calls the kernel: operands are arrays (or lists of arrays for a pointer-array argument)."""
    args = []
    keep = []
    for a in operands:
        if isinstance(a, list):
            arr = (ctypes.c_void_p * len(a))(*(x.ctypes.data for x in a))
            keep.append(arr)
            args.append(ctypes.cast(arr, ctypes.c_void_p))
        else:
            args.append(_ptr(a))
    p = params(call)
    return getattr(lib, call.kernel)(ctypes.byref(p), *args, _ptr(output))
