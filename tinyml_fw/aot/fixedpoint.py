"""The fixed-point arithmetic of firmware/kernels/tfw_fixedpoint.h in Python, exact on int32 values, for the
tables the generator precomputes (the fast int8 SOFTMAX's exponentials). The host tests check it against the
C functions."""

from __future__ import annotations

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(v: int) -> int:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    """round(a * b / 2^31), ties away from zero, INT32_MIN * INT32_MIN saturating."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    n = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    q = abs(n) >> 31
    return q if n >= 0 else -q


def rdbpot(x: int, exponent: int) -> int:
    """round(x / 2^exponent), ties away from zero."""
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def _exp_on_interval_neg_quarter_to_0(a: int) -> int:
    exp_minus_one_eighth, one_third = 1895147668, 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    poly = rdbpot(wrap32(srdhm(wrap32(rdbpot(x4, 2) + x3), one_third) + x2), 1)
    return wrap32(exp_minus_one_eighth + srdhm(exp_minus_one_eighth, wrap32(x + poly)))


_BARREL = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def exp_on_negative_values_q5(a: int) -> int:
    """exp(a) for a <= 0 in Q5.26, as Q0.31 (tfw_exp_on_negative_values_q5)."""
    quarter = 1 << 24
    a_mod = (a & (quarter - 1)) - quarter
    result = _exp_on_interval_neg_quarter_to_0(wrap32(a_mod << 5))
    remainder = wrap32(a_mod - a)
    for j, c in enumerate(_BARREL):
        if remainder & (1 << (24 + j)):
            result = srdhm(result, c)
    return INT32_MAX if a == 0 else result


def softmax_exp_table(input_multiplier: int, input_left_shift: int, diff_min: int) -> list[int]:
    """exp of every int8 difference to the row max the int8 SOFTMAX exponentiates: entry k is
    tfw_softmax_exp(-k) for k = 0 .. min(255, -diff_min), and 0 for the larger k up to 255 (differences
    below diff_min: no share of the sum, output -128), so the fast kernel reads any k without a test."""
    last = min(255, -diff_min)
    return [exp_on_negative_values_q5(srdhm(wrap32(-k << input_left_shift), input_multiplier)) if k <= last else 0
            for k in range(256)]
