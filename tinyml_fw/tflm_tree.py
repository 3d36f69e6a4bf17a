"""A TFLite Micro source tree made by TFLM's create_tflm_tree.py, used as a PlatformIO library.

What such a tree needs to build as a library (checked on tflite-micro 90b983c2, see docs/tflm.md):
- include roots: the tree itself and, under third_party/, flatbuffers/include, gemmlowp, ruy, kissfft (and
  cmsis_nn, cmsis_nn/Include, cmsis/CMSIS/Core/Include for a CMSIS-NN tree);
- the same defines for library and application: TF_LITE_STATIC_MEMORY (a mismatch links, then aborts at run
  time), CMSIS_NN in a CMSIS-NN tree (kernel headers differ). A library's own -D flags do not reach the
  project, so they go in the project's build_flags, which reach both;
- no archive: some file names occur twice in different folders (common.cc, kernel_util.cc, …) and `ar`
  keeps one of each name;
- the application provides DebugLog (and DebugVsnprintf when the tree declares it) and the timer
  (micro_time): the tree's target versions are left out of the build.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tinyml_fw.errors import BadInput

THIRD_PARTY_INCLUDES = ("third_party/flatbuffers/include", "third_party/gemmlowp", "third_party/ruy",
                        "third_party/kissfft")
CMSIS_NN_INCLUDES = ("third_party/cmsis_nn", "third_party/cmsis_nn/Include", "third_party/cmsis/CMSIS/Core/Include")
CMSIS_NN_DEFINES = ("CMSIS_NN", "ARM_NN_ENABLE_F16=0", "ARM_NN_ENABLE_F32=0", "KERNELS_OPTIMIZED_FOR_SPEED")
# Files the application replaces: the target's log output and timer.
REPLACED = ("debug_log.cc", "debug_log.cpp", "micro_time.cc", "micro_time.cpp")


@dataclass(frozen=True)
class TflmTree:
    root: Path
    include_dirs: tuple[str, ...]  # absolute
    defines: tuple[str, ...]
    src_filter: tuple[str, ...]  # PlatformIO srcFilter, relative to the root
    replaced: tuple[str, ...]  # relative paths of the files the application replaces
    debug_log: str  # DebugLog's signature: "va_list" (format, args) or "text" (const char*)
    debug_vsnprintf: bool  # the tree declares DebugVsnprintf (the application defines it)
    cmsis_nn: bool
    fingerprint: str  # SHA-256 over the tree's path, file names and sizes

    def to_dict(self) -> dict:
        return {"root": str(self.root), "cmsis_nn": self.cmsis_nn, "defines": list(self.defines),
                "replaced": list(self.replaced), "fingerprint": self.fingerprint}


def _fingerprint(root: Path, files: list[Path]) -> str:
    h = hashlib.sha256(f"{root}\n".encode())
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\n".encode())
    return h.hexdigest()


def load(path: str | Path) -> TflmTree:
    """Checks that `path` is a tree create_tflm_tree.py made and works out how to build it."""
    root = Path(path).expanduser().resolve()
    header = root / "tensorflow/lite/micro/micro_interpreter.h"
    if not header.is_file():
        raise BadInput(f"{root} is not a TFLM tree (no tensorflow/lite/micro/micro_interpreter.h): make one with "
                       "TFLM's tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py.")
    missing = [d for d in THIRD_PARTY_INCLUDES[:3] if not (root / d).is_dir()]
    if missing:
        raise BadInput(f"{root} lacks {', '.join(missing)}: create_tflm_tree.py copies them; make the tree again.")
    if any(c.isspace() or c in "\"'\\$`;&|<>()[]{}*?!#" for c in str(root)):  # its sources go through sh (SCons)
        raise BadInput(f"The TFLM tree's path {root} has spaces, quotes or shell characters: move it to a plain "
                       "path.")
    cmsis_nn = (root / "third_party/cmsis_nn/Include").is_dir()
    sources = sorted(p for p in (root / "tensorflow").rglob("*") if p.suffix in (".cc", ".cpp", ".c"))
    if cmsis_nn:
        sources += sorted(p for p in (root / "third_party/cmsis_nn/Source").rglob("*.c"))
    replaced = tuple(p.relative_to(root).as_posix() for p in sources if p.name in REPLACED)
    log_header = (root / "tensorflow/lite/micro/debug_log.h").read_text(errors="replace") \
        if (root / "tensorflow/lite/micro/debug_log.h").is_file() else ""
    includes = [root, *(root / d for d in THIRD_PARTY_INCLUDES if (root / d).is_dir())]
    if cmsis_nn:
        includes += [root / d for d in CMSIS_NN_INCLUDES if (root / d).is_dir()]
    defines = ("TF_LITE_STATIC_MEMORY", *(CMSIS_NN_DEFINES if cmsis_nn else ()))
    # Only TFLM itself (and CMSIS-NN): the signal library and kissfft serve audio front ends, not models.
    src_filter = ("+<tensorflow/>", *(("+<third_party/cmsis_nn/Source/>",) if cmsis_nn else ()),
                  *(f"-<{rel}>" for rel in replaced))
    return TflmTree(root, tuple(str(p) for p in includes), defines, src_filter, replaced,
                    "va_list" if "va_list" in log_header else "text", "DebugVsnprintf" in log_header, cmsis_nn,
                    _fingerprint(root, sources))
