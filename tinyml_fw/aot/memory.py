"""Static memory plan: tensor lifetimes over the op sequence, then greedy offsets (largest first)."""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 16


@dataclass(frozen=True)
class Buffer:
    key: int  # a storage id (aliased tensors share one)
    size: int
    first: int  # first step that writes it (-1: written by the host before the run)
    last: int  # last step that reads it (a large number: read by the host after the run)

    def overlaps(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_offsets(buffers: list[Buffer]) -> tuple[dict[int, int], int]:
    """Places each buffer at the lowest aligned offset free for its whole lifetime; returns (offsets, total)."""
    placed: list[tuple[int, Buffer]] = []
    offsets: dict[int, int] = {}
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.key)):
        offset = 0
        for other_offset, other in sorted((p for p in placed if p[1].overlaps(buf)), key=lambda p: p[0]):
            if offset + buf.size <= other_offset:
                break
            offset = max(offset, _align(other_offset + other.size))
        offsets[buf.key] = offset
        placed.append((offset, buf))
    total = max((offsets[b.key] + b.size for b in buffers), default=0)
    return offsets, _align(total)


def liveness_floor(buffers: list[Buffer]) -> int:
    """The largest sum of sizes alive at one step: no plan without in-place execution goes below it."""
    steps = {b.first for b in buffers} | {b.last for b in buffers}
    return max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)
