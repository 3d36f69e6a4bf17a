"""Data for calibration and validation: a recipe's, the user's .npz/.npy, or random inputs.

User files: an `.npz` with `x` (inputs, float) and optionally `y` (labels or targets), or the split keys
`x_train` (calibration) / `x_test` / `y_test` that `train` writes; or an `.npy` holding inputs only.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyml_fw.errors import BadInput


@dataclass(frozen=True)
class Data:
    calibration: np.ndarray  # float inputs for the representative data set
    x: np.ndarray  # validation inputs (float)
    y: np.ndarray | None  # labels (classification) or targets (regression)
    source: str

    def limit(self, n: int | None) -> Data:
        if n is None:
            return self
        return Data(self.calibration, self.x[:n], None if self.y is None else self.y[:n], self.source)


def load_data(path: str | Path) -> Data:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"Data file not found: {path}")
    try:
        if path.suffix == ".npy":
            x = np.load(path, allow_pickle=False)
            return Data(x, x, None, str(path))
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            if "x" in keys:
                x = npz["x"]
                return Data(x, x, npz["y"] if "y" in keys else None, str(path))
            if {"x_train", "x_test"} <= keys:
                return Data(npz["x_train"], npz["x_test"], npz["y_test"] if "y_test" in keys else None, str(path))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # a damaged or foreign file
        raise BadInput(f"{path} is not a readable .npz/.npy file ({exc}).") from None
    raise BadInput(f"{path} has no inputs: store them under the key 'x' (and labels under 'y').")


def random_data(shape: tuple[int, ...], count: int, seed: int = 0) -> Data:
    """Standard-normal float inputs for a model that has no data: enough to calibrate and compare."""
    if count < 1:
        raise BadInput("--random needs a positive number of vectors.")
    x = np.random.default_rng(seed).standard_normal((count, *shape)).astype(np.float32)
    return Data(x, x, None, f"random({count})")


def check_inputs(data: Data, shape: tuple[int, ...], outputs: int | None = None) -> None:
    """Refuses inputs that cannot be reshaped to the model's input (batch dimension excluded) and, given the
    model's number of `outputs`, labels that cannot be compared with them."""
    size = int(np.prod(shape))
    for name, arr in (("validation", data.x), ("calibration", data.calibration)):
        if arr.ndim < 1 or len(arr) == 0:
            raise BadInput(f"{data.source}: no {name} inputs: store at least one input under the key 'x'.")
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise BadInput(f"{data.source}: inputs are {arr.dtype}, not real numbers: store them as a float "
                           "array under the key 'x'.")
        if int(np.prod(arr.shape[1:])) != size:
            raise BadInput(f"{data.source}: inputs have shape {list(arr.shape[1:])}; the model takes "
                           f"{list(shape)}.")
    if data.y is not None:
        check_labels(data, outputs)


def check_labels(data: Data, outputs: int | None) -> None:
    """Labels `y`: one per input; class indices within the model's outputs, or targets of its output size."""
    y = np.asarray(data.y)
    if y.ndim < 1 or len(y) != len(data.x):
        raise BadInput(f"{data.source}: {len(data.x)} inputs but {len(y) if y.ndim else 0} labels: "
                       "store one label per input under 'y'.")
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise BadInput(f"{data.source}: labels are {y.dtype}, not numbers: store class indices (integers) or "
                       "targets (floats) under 'y'.")
    if outputs is None:
        return
    per_row = int(np.prod(y.shape[1:]))
    if outputs > 1 and np.issubdtype(y.dtype, np.integer) and per_row == 1:  # class indices
        if len(y) and (y.min() < 0 or y.max() >= outputs):
            raise BadInput(f"{data.source}: labels run from {y.min()} to {y.max()} but the model has {outputs} "
                           f"outputs (classes 0 to {outputs - 1}): are these the labels of this model?")
    elif per_row != outputs:
        raise BadInput(f"{data.source}: labels have {per_row} value{'s' if per_row != 1 else ''} per input but "
                       f"the model has {outputs} output{'s' if outputs != 1 else ''}: store class indices "
                       "(integers) or targets of the output's size under 'y'.")
