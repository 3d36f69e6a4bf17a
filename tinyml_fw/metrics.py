"""Comparison metrics of a validation run: the device's outputs against the reference's, and both against
the labels. Pure functions over arrays (no I/O), so that every figure of the report is tested on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

HISTOGRAM_CAP = 8  # |difference| of 8 LSB and more share the histogram's last bin


@dataclass(frozen=True)
class Agreement:
    """How the device's outputs (quantized, as the model's output type) agree with the reference's."""

    vectors: int
    bit_exact: int  # vectors whose every output byte equals the reference's
    within_tolerance: int  # vectors whose every output is within `tolerance_lsb` of the reference's
    tolerance_lsb: int
    max_abs_diff: int  # in LSB of the output's quantization
    top1_agreement: float
    rmse: float  # of the dequantized outputs (real values), device against reference
    mae: float
    cosine_similarity: float  # of the whole output matrices, flattened
    error_histogram: dict[str, int]  # |difference| in LSB ("0", "1", …, "8+") → output elements
    mismatches: tuple[int, ...]  # positions (in the compared rows) beyond the tolerance

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("mismatches")
        return d


def agreement(got: np.ndarray, expected: np.ndarray, got_real: np.ndarray, expected_real: np.ndarray,
              tolerance_lsb: int = 0) -> Agreement:
    """`got`/`expected`: (N, outputs) in the model's output type; `*_real`: the same dequantized."""
    n = len(got)
    if n == 0:
        return Agreement(0, 0, 0, tolerance_lsb, 0, 0.0, 0.0, 0.0, 0.0, {}, ())
    diff = np.abs(got.astype(np.int64) - expected.astype(np.int64)) if np.issubdtype(got.dtype, np.integer) \
        else np.abs(got.astype(np.float64) - expected.astype(np.float64))
    per_vector = diff.max(axis=1)
    within = per_vector <= tolerance_lsb
    real = got_real.astype(np.float64) - expected_real.astype(np.float64)
    a, b = got_real.astype(np.float64).ravel(), expected_real.astype(np.float64).ravel()
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    cosine = float(a @ b / norms) if norms > 0 else (1.0 if np.array_equal(a, b) else 0.0)
    bins = np.minimum(np.ceil(diff).astype(np.int64), HISTOGRAM_CAP).ravel()
    counts = np.bincount(bins, minlength=HISTOGRAM_CAP + 1)
    histogram = {(f"{i}+" if i == HISTOGRAM_CAP else str(i)): int(c) for i, c in enumerate(counts)}
    top1 = float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1))) if got.shape[1] > 1 else 1.0 \
        if np.array_equal(got, expected) else float(np.mean(per_vector == 0))
    return Agreement(
        vectors=n, bit_exact=int(np.sum(per_vector == 0)), within_tolerance=int(within.sum()),
        tolerance_lsb=tolerance_lsb, max_abs_diff=int(np.ceil(diff.max())), top1_agreement=top1,
        rmse=float(np.sqrt(np.mean(real**2))), mae=float(np.mean(np.abs(real))), cosine_similarity=cosine,
        error_histogram=histogram, mismatches=tuple(int(i) for i in np.flatnonzero(~within)))


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, classes: int) -> list[list[int]]:
    """rows: true class, columns: predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix.tolist()


def is_classification(outputs: int, y: np.ndarray | None) -> bool:
    """Labels that are class indices for a model with several outputs (scored by accuracy, not by MAE)."""
    return y is not None and outputs > 1 and np.issubdtype(np.asarray(y).dtype, np.integer)
