"""Stage 1, train: a recipe's Keras model trained on its data set, cached by everything that decides it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinyml_fw import __version__, cache, recipes
from tinyml_fw.tf import tensorflow


@dataclass(frozen=True)
class Trained:
    recipe: str
    task: str  # classification | regression
    model_path: str  # .keras, dynamic batch
    data_path: str  # .npz: x_train, y_train, x_test, y_test, labels
    float_accuracy: float | None  # classification
    float_mae: float | None  # regression

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Trained:
        return cls(**json.loads(text))


def _data_hash(data: recipes.Dataset) -> str:
    digest = hashlib.sha256()
    for arr in (data.x_train, data.y_train, data.x_test, data.y_test):
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def cache_parts(recipe: recipes.Recipe, seed: int, data: recipes.Dataset) -> dict:
    """What decides a trained model: the recipe, seed, data and the versions of everything that trains."""
    import tflite_micro

    tf = tensorflow()
    return {"recipe": recipe.name, "seed": seed, "data": _data_hash(data), "tinyml_fw": __version__,
            "tensorflow": tf.__version__, "keras": tf.keras.__version__, "tflite_micro": tflite_micro.__version__}


def _fit(recipe: recipes.Recipe, data: recipes.Dataset, seed: int, out: Path, log) -> Trained:
    tf = tensorflow()
    tf.keras.utils.set_random_seed(seed)
    model = recipe.build(None)
    metrics = ["accuracy"] if recipe.task == "classification" else ["mae"]
    model.compile(optimizer="adam", loss=recipe.loss, metrics=metrics)
    log(f"Training {recipe.name}: {len(data.x_train)} samples, {recipe.epochs} epochs")
    model.fit(data.x_train, data.y_train, epochs=recipe.epochs, batch_size=recipe.batch_size, verbose=0)
    _, score = model.evaluate(data.x_test, data.y_test, verbose=0)
    model.save(out / "model.keras")
    np.savez_compressed(out / "data.npz", x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                        y_test=data.y_test, labels=np.array(data.labels, dtype=str))
    classification = recipe.task == "classification"
    return Trained(recipe.name, recipe.task, "model.keras", "data.npz", float(score) if classification else None,
                   None if classification else float(score))


def _located(trained: Trained, folder: Path) -> Trained:
    return Trained(trained.recipe, trained.task, str(folder / Path(trained.model_path).name),
                   str(folder / Path(trained.data_path).name), trained.float_accuracy, trained.float_mae)


def train(recipe_name: str, out_dir: str | Path | None = None, seed: int = recipes.SEED, force: bool = False,
          log=print) -> Trained:
    """Trains `recipe_name`, or returns the cached result of the same training (unless `force`)."""
    recipe = recipes.get(recipe_name)
    data = recipe.load(seed)
    folder = Path(out_dir) if out_dir else cache.entry("trained", recipe.name, cache_parts(recipe, seed, data))
    meta = folder / "train.json"
    with cache.locked(folder):
        if meta.is_file() and not force:
            log(f"Using trained {recipe.name} from {folder}")
            return _located(Trained.from_json(meta.read_text()), folder)
        with cache.building(folder) as tmp:
            trained = _fit(recipe, data, seed, tmp, log)
            (tmp / "train.json").write_text(trained.to_json())
    trained = _located(trained, folder)
    score = (f"accuracy {trained.float_accuracy:.2%}" if trained.float_accuracy is not None
             else f"mean absolute error {trained.float_mae:.4f}")
    log(f"Float test {score}; saved {trained.model_path}")
    return trained
