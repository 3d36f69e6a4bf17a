"""Runs a KernelCall (what an op lowering prepares, tinyml_fw/aot/kernel_call.py) on the host-built
kernels through ctypes. The ctypes structs are read from the kernel headers themselves, so the layout
the test uses is the one the firmware compiles; a shim reports each struct's C sizeof to check it."""

from __future__ import annotations

import ctypes
import re
import subprocess
from pathlib import Path

import numpy as np

from tinyml_fw.aot.kernel_call import Const, KernelCall

REPO = Path(__file__).resolve().parents[2]
KERNEL_DIR = REPO / "firmware" / "kernels"
COMMON_DIR = REPO / "firmware" / "common"
SOURCES = ["tfw_conv.c", "tfw_depthwise_conv.c", "tfw_pooling.c", "tfw_pad.c", "tfw_mean.c",
           "tfw_fully_connected.c"]
HEADERS = ["tfw_conv.h", "tfw_depthwise_conv.h", "tfw_pooling.h", "tfw_pad.h", "tfw_mean.h",
           "tfw_fully_connected.h"]
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"]
BASE = {"int8_t": ctypes.c_int8, "int16_t": ctypes.c_int16, "int32_t": ctypes.c_int32,
        "int64_t": ctypes.c_int64}
NUMPY = {"int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32, "int64_t": np.int64}


def parse_structs(text: str) -> dict[str, list[tuple[str, object]]]:
    """`typedef struct { ... } Name;` blocks of a kernel header → ctypes _fields_ lists."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    defines = {k: int(v) for k, v in re.findall(r"#define\s+(\w+)\s+(\d+)", text)}
    structs = {}
    for body, name in re.findall(r"typedef\s+struct\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
        fields = []
        for decl in filter(None, (d.strip() for d in body.split(";"))):
            decl = re.sub(r"\bconst\b", "", decl).strip()
            base, rest = decl.split(None, 1)
            for item in rest.split(","):
                item = item.strip()
                pointer = item.startswith("*")
                m = re.fullmatch(r"\*?\s*(\w+)\s*(?:\[(\w+)\])?", item)
                if m is None or base not in BASE:
                    raise ValueError(f"{name}: cannot parse field '{decl}'")
                ctype = BASE[base]
                if pointer:
                    ctype = ctypes.POINTER(ctype)
                if m.group(2):
                    n = m.group(2)
                    ctype = ctype * (int(n) if n.isdigit() else defines[n])
                fields.append((m.group(1), ctype))
        structs[name] = fields
    return structs


# The inline helpers, exposed for unit tests.
_SHIM = r"""
#include "tfw_fixedpoint64.h"
#include "tfw_window.h"
int32_t shim_mbqm64(int64_t x, int32_t m, int32_t s) { return tfw_multiply_by_quantized_multiplier64(x, m, s); }
void shim_window_taps(int32_t origin, int32_t dilation, int32_t size, int32_t taps, int32_t *s, int32_t *e) {
  tfw_window_taps(origin, dilation, size, taps, s, e);
}
"""


def cross_compile(outdir: Path, compiler: str, extra: list[str]) -> None:
    """Every kernel source of the family as an object file, with another compiler."""
    for src in SOURCES:
        cmd = [compiler, *CFLAGS, *extra, "-I", str(COMMON_DIR), "-I", str(KERNEL_DIR), "-c",
               str(KERNEL_DIR / src), "-o", str(Path(outdir) / (src + ".o"))]
        subprocess.run(cmd, check=True, capture_output=True, text=True)


class Kernels:
    """The conv-family kernels built for the host, with one ctypes struct per params type."""

    def __init__(self, outdir: Path):
        self.structs = {}
        for header in HEADERS:
            for name, fields in parse_structs((KERNEL_DIR / header).read_text()).items():
                self.structs[name] = type(name, (ctypes.Structure,), {"_fields_": fields})
        shim = Path(outdir) / "kcall_shim.c"
        shim.write_text("#include <stddef.h>\n" + "".join(f'#include "{h}"\n' for h in HEADERS) + "".join(
            f"size_t shim_sizeof_{n}(void) {{ return sizeof({n}); }}\n" for n in self.structs) + _SHIM)
        lib = Path(outdir) / "libtfw_conv_kernels.so"
        cmd = ["gcc", *CFLAGS, "-fPIC", "-shared", "-I", str(COMMON_DIR), "-I", str(KERNEL_DIR),
               *[str(KERNEL_DIR / s) for s in SOURCES], str(shim), "-o", str(lib)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        self.dll = ctypes.CDLL(str(lib))
        self.dll.shim_mbqm64.argtypes = [ctypes.c_int64, ctypes.c_int32, ctypes.c_int32]
        self.dll.shim_mbqm64.restype = ctypes.c_int32
        self.dll.shim_window_taps.argtypes = [ctypes.c_int32] * 4 + [ctypes.POINTER(ctypes.c_int32)] * 2
        for n, struct in self.structs.items():
            fn = getattr(self.dll, f"shim_sizeof_{n}")
            fn.restype = ctypes.c_size_t
            if fn() != ctypes.sizeof(struct):
                raise AssertionError(f"{n}: C sizeof {fn()} != parsed layout {ctypes.sizeof(struct)}")

    def params(self, call: KernelCall, keep: list):
        """The params struct of a call; arrays it points to are appended to keep."""
        struct = self.structs[call.params_type]
        names = [f for f, _ in struct._fields_]
        if set(names) != set(call.fields):
            raise AssertionError(f"{call.params_type}: struct fields {names} != prepared {sorted(call.fields)}")
        p = struct()
        for name, ctype in struct._fields_:
            value = call.fields[name]
            if value is None:
                setattr(p, name, None)
            elif isinstance(value, Const):
                if ctype._type_ is not BASE[value.ctype]:
                    raise AssertionError(f"{call.params_type}.{name}: {value.ctype} array for {ctype}")
                arr = np.ascontiguousarray(value.values, dtype=NUMPY[value.ctype]).reshape(-1)
                keep.append(arr)
                setattr(p, name, arr.ctypes.data_as(ctype))
            elif isinstance(value, tuple):
                setattr(p, name, ctype(*value))
            else:
                setattr(p, name, int(value))
        return p

    def run(self, call: KernelCall, inputs, out_size: int, expect_status: int = 0) -> np.ndarray:
        """The kernel on every inputs[i]; returns [N, out_size] outputs."""
        keep: list = []
        p = self.params(call, keep)
        fn = getattr(self.dll, call.kernel)
        fn.argtypes = [ctypes.POINTER(type(p)), ctypes.c_void_p, ctypes.c_void_p]
        fn.restype = ctypes.c_int
        dtype = NUMPY[call.ctype]
        xs = np.asarray(inputs)
        out = np.zeros((len(xs), out_size), dtype=dtype)
        for i, x in enumerate(xs):
            x = np.ascontiguousarray(x, dtype=dtype)
            status = fn(ctypes.byref(p), x.ctypes.data, out[i].ctypes.data)
            if status != expect_status:
                raise AssertionError(f"{call.kernel} returned {status}")
        return out


_SHARED: dict = {}


def shared_kernels() -> Kernels:
    """One build per test process, whichever test module asks first."""
    if "k" not in _SHARED:
        import atexit
        import shutil
        import tempfile

        outdir = tempfile.mkdtemp(prefix="tfw_conv_kernels_")
        atexit.register(shutil.rmtree, outdir, True)
        _SHARED["k"] = Kernels(Path(outdir))
    return _SHARED["k"]
