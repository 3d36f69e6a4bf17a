"""One corrupted weight in a generated model: the negative controls of the end-to-end and report tests, which
must see validation fail (and name the layer) when a single weight of the firmware is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinyml_fw.aot.ops.fully_connected import REQUANT_WORDS, interleave_weights


def flip_weight(project: Path, layer: str, row: int, d: int, rows: int, depth: int) -> None:
    """Corrupts weight [row][d] of the FULLY_CONNECTED layer `layer` (e.g. "mnist_mlp_l1", rows × depth) in the
    generated model source: its sign bit in the portable kernel's int8 array (`{layer}_weights`), or bit 14 of
    its int16 (±16,384) in the fast kernels' block stream (`{layer}_blocks`: per block of four rows, 4 fused
    biases, the interleaved weights, the requantization words)."""
    source = next((project / "src" / "model").glob("*_model.c"))
    text = source.read_text()
    portable = f"{layer}_weights[" in text
    match = re.search(rf"{layer}_{'weights' if portable else 'blocks'}\[\d+\][^=]*= \{{\n(.*?)\n\}};", text, re.S)
    assert match, f"no weights of {layer} in {source}"
    values = [int(v) for v in re.findall(r"-?\d+", match.group(1))]
    if portable:
        i = row * depth + d
        values[i] = int(np.array(values[i] & 0xFF ^ 0x80, np.uint8).view(np.int8))
    else:
        probe = np.zeros((rows, depth), np.int8)
        probe[row, d] = 1
        words = interleave_weights(probe)  # [blocks][weight words]: the one word holding [row][d] is nonzero
        block, word = (int(v) for v in np.argwhere(words != 0)[0])
        bit = 0x4000 if words[block, word] == 1 else 0x4000_0000  # the low or the high halfword
        i = block * (4 + words.shape[1] + 4 * REQUANT_WORDS) + 4 + word
        values[i] = int(np.array((values[i] & 0xFFFF_FFFF) ^ bit, np.uint32).view(np.int32))
    body = ",\n".join("  " + ", ".join(map(str, values[i : i + 16])) for i in range(0, len(values), 16))
    source.write_text(text[: match.start(1)] + body + "," + text[match.end(1):])
