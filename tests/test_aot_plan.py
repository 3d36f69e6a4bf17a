"""The AOT memory plan and lowering: no two live tensors share bytes; refusals name op and layer."""

from __future__ import annotations

import random

import pytest

from tinyml_fw.aot.lower import lower
from tinyml_fw.aot.memory import ALIGN, Buffer, liveness_floor, plan_offsets
from tinyml_fw.errors import BadInput
from tinyml_fw.modelspec import read_model


def assert_no_overlap(buffers, offsets):
    for a in buffers:
        assert offsets[a.key] % ALIGN == 0
        for b in buffers:
            if a.key < b.key and a.overlaps(b):
                a_end, b_end = offsets[a.key] + a.size, offsets[b.key] + b.size
                assert a_end <= offsets[b.key] or b_end <= offsets[a.key], (a, b)


def test_random_lifetimes_never_share_live_bytes():
    rng = random.Random(3)
    for _ in range(200):
        buffers = []
        for key in range(rng.randrange(1, 12)):
            first = rng.randrange(-1, 10)
            buffers.append(Buffer(key, rng.randrange(1, 3000), first, first + rng.randrange(0, 5)))
        offsets, total = plan_offsets(buffers)
        assert_no_overlap(buffers, offsets)
        assert total >= liveness_floor(buffers)
        assert all(offsets[b.key] + b.size <= total for b in buffers)


def test_chain_reuses_memory():
    # a → b → c → d: a and c can share, b and d can share.
    buffers = [Buffer(0, 1000, -1, 0), Buffer(1, 500, 0, 1), Buffer(2, 1000, 1, 2), Buffer(3, 500, 2, 99)]
    offsets, total = plan_offsets(buffers)
    assert total == 1520  # 1008 (1000 aligned) + 500, aligned: not the 3000 of no reuse
    assert liveness_floor(buffers) == 1500


def test_hello_world_plan(hello_world_model):
    plan = lower(read_model(hello_world_model), "hello world")
    assert plan.name == "hello_world"
    # fast_kernels: direct calls of the fast kernel of each layer's requantization
    assert all(s.kernel.startswith("tfw_fully_connected_s8_fast") for s in plan.steps) and len(plan.steps) == 3
    assert [s.kernel for s in lower(read_model(hello_world_model), "hw", fast_kernels=False).steps] == [
        "tfw_fully_connected_s8"] * 3
    assert plan.input_bytes == 1 and plan.output_bytes == 1
    assert plan.liveness_floor <= plan.arena_bytes


def test_unsupported_op_is_refused_with_layer(unsupported_op_model):
    with pytest.raises(BadInput, match=r"GATHER in layer 1 \(GATHER"):
        lower(read_model(unsupported_op_model), "gather")


@pytest.mark.parametrize("fixture", ["hello_world_model", "micro_speech_model"])
def test_shared_models_plan_within_10_percent_of_the_floor(fixture, request):
    from tinyml_fw.analyze import analyze

    analysis = analyze(request.getfixturevalue(fixture), measure_arena=False)
    assert analysis.aot_supported, analysis.aot_refusal
    assert analysis.aot_arena_bytes <= 1.1 * analysis.liveness_floor
