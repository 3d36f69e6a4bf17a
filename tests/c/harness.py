"""The host harness of the C kernels: every kernel source of firmware/kernels built into one shared
library, a ctypes struct per params type read from the kernel headers themselves (so the layout the
tests use is the one the firmware compiles; a shim reports each struct's C sizeof to check it), and
a runner for a planned kernel call (tinyml_fw/aot/call.py's Call) on numpy buffers, so the host tests
run exactly the calls the generator emits."""

from __future__ import annotations

import ctypes
import re
import subprocess
from pathlib import Path

import numpy as np

from tinyml_fw.aot.call import Call, Const

REPO = Path(__file__).resolve().parents[2]
KERNEL_DIR = REPO / "firmware" / "kernels"
COMMON_DIR = REPO / "firmware" / "common"
SOURCES = sorted(p.name for p in KERNEL_DIR.glob("*.c"))
HEADERS = sorted(p.name for p in KERNEL_DIR.glob("*.h"))
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"]
BASE = {"int8_t": ctypes.c_int8, "int16_t": ctypes.c_int16, "int32_t": ctypes.c_int32,
        "int64_t": ctypes.c_int64, "float": ctypes.c_float}
NUMPY = {"int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32, "int64_t": np.int64, "float": np.float32}

# The static inline helpers, exposed for unit tests: (name, C definition, argtypes).
_I32, _I64 = ctypes.c_int32, ctypes.c_int64
_SHIMS = [
    ("shim_srdhm", "int32_t shim_srdhm(int32_t a, int32_t b) { return tfw_sat_rounding_doubling_high_mul(a, b); }",
     [_I32] * 2),
    ("shim_rdbpot", "int32_t shim_rdbpot(int32_t x, int32_t e) { return tfw_rounding_divide_by_pot(x, e); }",
     [_I32] * 2),
    ("shim_mbqm", "int32_t shim_mbqm(int32_t x, int32_t m, int32_t s) "
                  "{ return tfw_multiply_by_quantized_multiplier(x, m, s); }", [_I32] * 3),
    ("shim_requant", "int32_t shim_requant(int32_t x, int32_t mode, int32_t q0, int32_t q1, int32_t q2, int32_t q3, "
                     "int32_t q4) { const int32_t q[5] = {q0, q1, q2, q3, q4}; "
                     "return mode ? tfw_requant_right(x, q) : tfw_mbqm_fast(x, q[0], q[1]); }", [_I32] * 7),
    ("shim_exp_q5", "int32_t shim_exp_q5(int32_t a) { return tfw_exp_on_negative_values_q5(a); }", [_I32]),
    ("shim_recip", "int32_t shim_recip(int32_t a) { return tfw_one_over_one_plus_x_for_x_in_0_1(a); }", [_I32]),
    ("shim_mbqm64", "int32_t shim_mbqm64(int64_t x, int32_t m, int32_t s) "
                    "{ return tfw_multiply_by_quantized_multiplier64(x, m, s); }", [_I64, _I32, _I32]),
]
_WINDOW_SHIM = """
void shim_window_taps(int32_t origin, int32_t dilation, int32_t size, int32_t taps, int32_t *s, int32_t *e) {
  tfw_window_taps(origin, dilation, size, taps, s, e);
}
"""


def parse_structs(text: str, known: dict | None = None) -> dict[str, type]:
    """`typedef struct { ... } Name;` blocks (and `typedef Name Other;` aliases) of a kernel header →
    ctypes Structure types; a field may be a struct of `known` or of the same header."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    defines = {k: int(v) for k, v in re.findall(r"#define\s+(\w+)\s+(\d+)", text)}
    types = dict(known or {})
    structs = {}
    for body, name, alias, other in re.findall(
            r"typedef\s+struct\s*\{(.*?)\}\s*(\w+)\s*;|typedef\s+(Tfw\w+)\s+(\w+)\s*;", text, flags=re.S):
        if alias:
            structs[other] = types[other] = types[alias]
            continue
        fields = []
        for decl in filter(None, (d.strip() for d in body.split(";"))):
            decl = re.sub(r"\bconst\b", "", decl).strip()
            base, rest = decl.split(None, 1)
            for item in rest.split(","):
                m = re.fullmatch(r"(\*?)\s*(\w+)\s*(?:\[(\w+)\])?", item.strip())
                ctype = BASE.get(base) or types.get(base)
                if m is None or ctype is None:
                    raise ValueError(f"{name}: cannot parse field '{decl}'")
                if m.group(1):
                    ctype = ctypes.POINTER(ctype)
                if m.group(3):
                    n = m.group(3)
                    ctype = ctype * (int(n) if n.isdigit() else defines[n])
                fields.append((m.group(2), ctype))
        structs[name] = types[name] = type(name, (ctypes.Structure,), {"_fields_": fields})
    return structs


def cross_compile(outdir: Path, compiler: str, extra: list[str], sources: list[str] = SOURCES) -> None:
    """Kernel sources as object files, with another compiler (warnings are errors)."""
    for src in sources:
        cmd = [compiler, *CFLAGS, *extra, "-I", str(COMMON_DIR), "-I", str(KERNEL_DIR), "-c",
               str(KERNEL_DIR / src), "-o", str(Path(outdir) / (src + ".o"))]
        subprocess.run(cmd, check=True, capture_output=True, text=True)


class Kernels:
    """Every kernel built for the host (`dll`), with one ctypes struct per params type (`structs`)."""

    def __init__(self, outdir: Path):
        self.structs: dict[str, type] = {}
        for header in HEADERS:
            self.structs.update(parse_structs((KERNEL_DIR / header).read_text(), self.structs))
        shim = Path(outdir) / "tfw_shim.c"
        shim.write_text("#include <stddef.h>\n" + "".join(f'#include "{h}"\n' for h in HEADERS)
                        + "".join(f"size_t shim_sizeof_{n}(void) {{ return sizeof({n}); }}\n" for n in self.structs)
                        + "".join(code + "\n" for _, code, _ in _SHIMS) + _WINDOW_SHIM)
        lib = Path(outdir) / "libtfw_kernels.so"
        cmd = ["gcc", *CFLAGS, "-fPIC", "-shared", "-I", str(COMMON_DIR), "-I", str(KERNEL_DIR),
               *[str(KERNEL_DIR / s) for s in SOURCES], str(shim), "-o", str(lib)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        self.dll = ctypes.CDLL(str(lib))
        for name, _, argtypes in _SHIMS:
            getattr(self.dll, name).argtypes = argtypes
            getattr(self.dll, name).restype = ctypes.c_int32
        self.dll.shim_window_taps.argtypes = [ctypes.c_int32] * 4 + [ctypes.POINTER(ctypes.c_int32)] * 2
        for name, struct in self.structs.items():
            if self.sizeof(name) != ctypes.sizeof(struct):
                raise AssertionError(f"{name}: C sizeof {self.sizeof(name)} != parsed layout {ctypes.sizeof(struct)}")

    def sizeof(self, name: str) -> int:
        """sizeof(name) as the C compiler lays the struct out."""
        fn = getattr(self.dll, f"shim_sizeof_{name}")
        fn.restype = ctypes.c_size_t
        return fn()

    def params(self, call: Call, keep: list) -> ctypes.Structure:
        """The params struct of a call; arrays it points to are appended to keep."""
        return self._fill(self.structs[call.params_type](), call.params_type, call.fields, keep)

    def _fill(self, struct, name: str, fields: dict, keep: list):
        names = [f for f, _ in struct._fields_]
        if list(fields) != names:
            raise AssertionError(f"{name}: struct fields {names} != planned {list(fields)}")
        for key, ctype in struct._fields_:
            value = fields[key]
            if isinstance(value, dict):
                self._fill(getattr(struct, key), f"{name}.{key}", value, keep)
            elif value is None:
                setattr(struct, key, None)
            elif isinstance(value, Const):
                if ctype._type_ is not BASE[value.ctype]:
                    raise AssertionError(f"{name}.{key}: {value.ctype} array for {ctype}")
                arr = np.ascontiguousarray(value.values, dtype=NUMPY[value.ctype]).reshape(-1)
                keep.append(arr)
                setattr(struct, key, arr.ctypes.data_as(ctype))
            elif isinstance(value, (tuple, list)):
                setattr(struct, key, ctype(*(int(v) for v in value)))
            elif isinstance(value, (float, np.floating)):
                setattr(struct, key, float(value))
            else:
                setattr(struct, key, int(value))
        return struct

    def call(self, call: Call, operands: list, output: np.ndarray) -> int:
        """The kernel's status; operands are contiguous arrays (a list of them for a pointer-array
        argument), the output is written in place."""
        keep: list = []
        args = []
        for a in operands:
            if isinstance(a, list):
                arr = (ctypes.c_void_p * len(a))(*(x.ctypes.data for x in a))
                keep.append(arr)
                args.append(ctypes.cast(arr, ctypes.c_void_p))
            else:
                args.append(ctypes.c_void_p(a.ctypes.data))
        p = self.params(call, keep)
        return getattr(self.dll, call.kernel)(ctypes.byref(p), *args, ctypes.c_void_p(output.ctypes.data))

    def run(self, call: Call, inputs, out_size: int, expect_status: int = 0) -> np.ndarray:
        """A one-input kernel on every inputs[i]; returns [N, out_size] outputs."""
        xs = np.asarray(inputs)
        out = np.zeros((len(xs), out_size), dtype=NUMPY[call.ctypes[-1]])
        for i, x in enumerate(xs):
            status = self.call(call, [np.ascontiguousarray(x, dtype=NUMPY[call.ctypes[0]])], out[i])
            if status != expect_status:
                raise AssertionError(f"{call.kernel} returned {status}")
        return out


_SHARED: dict = {}


def shared() -> Kernels:
    """One build per process, whichever test module (or the bench) asks first."""
    if "k" not in _SHARED:
        import atexit
        import shutil
        import tempfile

        outdir = tempfile.mkdtemp(prefix="tfw_kernels_")
        atexit.register(shutil.rmtree, outdir, True)
        _SHARED["k"] = Kernels(Path(outdir))
    return _SHARED["k"]


# ---- the fast (DSP) kernels on the host -------------------------------------------------------------

CONV_PATCH_MAX = int(re.search(r"#define TFW_CONV_PATCH_MAX (\d+)", (KERNEL_DIR / "tfw_conv.h").read_text()).group(1))


def takes_fast(call: Call) -> bool:
    """Whether a DSP core's build runs `call` on the fast kernel (the dispatch in the portable kernel's
    file, after its checks). FULLY_CONNECTED's and SOFTMAX's fast kernels are no dispatch: the generator calls
    them directly."""
    from tinyml_fw.aot.ops.conv import patch_bytes

    f = call.fields
    if call.kernel == "tfw_conv_s8":
        return (f.get("blocks") is not None and f["filter_depth"] == f["input_depth"]
                and patch_bytes(f["filter_height"], f["filter_width"], f["filter_depth"]) <= CONV_PATCH_MAX)
    if call.kernel == "tfw_depthwise_conv_s8":
        return f.get("fused_bias") is not None
    return False


class FastKernels:
    """The kernels as a DSP core's build runs them: calls the fast variant (`<kernel>_fast`, its DSP
    instructions emulated in C on the host) wherever the dispatch would; counts those calls in `fast_calls`."""

    def __init__(self, kernels: Kernels):
        self.kernels = kernels
        self.fast_calls = 0

    def __getattr__(self, name):
        return getattr(self.kernels, name)

    def call(self, call: Call, operands: list, output: np.ndarray) -> int:
        import dataclasses

        if takes_fast(call):
            self.fast_calls += 1
            call = dataclasses.replace(call, kernel=call.kernel + "_fast")
        return self.kernels.call(call, operands, output)
