"""text / data / bss of any ELF file (Arm, Xtensa, AVR, RISC-V), the way binutils' `size -B` counts them,
from the section headers: no toolchain needed.

A section counts when it is allocated (SHF_ALLOC): code or read-only → text; written with contents → data;
written without contents (SHT_NOBITS) → bss.
"""

from __future__ import annotations

import struct
from pathlib import Path

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHT_NOBITS = 8


def berkeley_sizes(path: str | Path) -> tuple[int, int, int]:
    raw = Path(path).read_bytes()
    if raw[:4] != b"\x7fELF" or len(raw) < 52:
        raise ValueError("not an ELF file")
    bits = {1: 32, 2: 64}.get(raw[4])
    order = {1: "<", 2: ">"}.get(raw[5])
    if bits is None or order is None:
        raise ValueError("unknown ELF class or byte order")
    if bits == 32:
        shoff, = struct.unpack_from(order + "I", raw, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", raw, 0x2E)
        entry = order + "IIIIIIIIII"  # name type flags addr offset size link info addralign entsize
    else:
        shoff, = struct.unpack_from(order + "Q", raw, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", raw, 0x3A)
        entry = order + "IIQQQQIIQQ"
    if shoff == 0 or shoff + shentsize * shnum > len(raw):
        raise ValueError("no section headers")
    text = data = bss = 0
    for i in range(shnum):
        _, sh_type, flags, _, _, size, *_ = struct.unpack_from(entry, raw, shoff + i * shentsize)
        if not flags & SHF_ALLOC:
            continue
        if flags & SHF_EXECINSTR or not flags & SHF_WRITE:
            text += size
        elif sh_type != SHT_NOBITS:
            data += size
        else:
            bss += size
    return text, data, bss
