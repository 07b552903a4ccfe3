"""The arena plan: offsets for buffers with live ranges, in one caller-owned arena.

A buffer is live from the step that writes it to the last step that reads it
(inclusive at both ends, so a step's inputs never share bytes with its
outputs). Buffers whose live ranges overlap get disjoint byte ranges.
Placement is first fit: buffers in some order, each at the lowest aligned
offset that fits beside the already placed buffers it overlaps in time. Three
orders are tried (largest first, execution order, longest-lived first) and the
smallest arena kept; the search stops early when one reaches the lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 64


def align_up(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


@dataclass(frozen=True)
class Buffer:
    key: int  # caller's id
    size: int  # bytes
    start: int  # first step it is live in
    end: int  # last step it is live in

    def overlaps(self, o: Buffer) -> bool:
        return self.start <= o.end and o.start <= self.end


@dataclass(frozen=True)
class MemoryPlan:
    offsets: dict[int, int]  # key -> byte offset
    arena_bytes: int
    lower_bound: int  # peak of simultaneously live (aligned) bytes over all steps


def peak_live(buffers: list[Buffer]) -> int:
    if not buffers:
        return 0
    last = max(b.end for b in buffers)
    delta = [0] * (last + 2)
    for b in buffers:
        delta[b.start] += align_up(b.size)
        delta[b.end + 1] -= align_up(b.size)
    peak = cur = 0
    for d in delta:
        cur += d
        peak = max(peak, cur)
    return peak


# Orders in which buffers are placed; each is tried and the smallest arena kept.
PLACEMENT_ORDERS = {
    "size": lambda b: (-b.size, b.start, b.key),  # largest first
    "start": lambda b: (b.start, -b.size, b.key),  # in execution order
    "lifetime": lambda b: (-(b.end - b.start), -b.size, b.key),  # longest-lived first
}


def _place(buffers: list[Buffer], order) -> dict[int, int]:
    placed: list[tuple[int, int, Buffer]] = []  # (offset, aligned size, buffer)
    offsets: dict[int, int] = {}
    for b in sorted(buffers, key=order):
        size = align_up(max(b.size, 1))
        busy = sorted((off, off + sz) for off, sz, o in placed if o.overlaps(b))
        offset = 0
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, align_up(hi))
        offsets[b.key] = offset
        placed.append((offset, size, b))
    return offsets


def plan_memory(buffers: list[Buffer]) -> MemoryPlan:
    sizes = {b.key: align_up(max(b.size, 1)) for b in buffers}
    best: dict[int, int] = {}
    best_arena = None
    for order in PLACEMENT_ORDERS.values():
        offsets = _place(buffers, order)
        arena = max((off + sizes[k] for k, off in offsets.items()), default=0)
        if best_arena is None or arena < best_arena:
            best, best_arena = offsets, arena
        if arena == peak_live(buffers):
            break
    return MemoryPlan(best, best_arena or 0, peak_live(buffers))
