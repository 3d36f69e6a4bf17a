"""Stage 1, train: a recipe's Keras model trained on its data set, cached by recipe and versions."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinyml_fw import __version__, recipes
from tinyml_fw.paths import home
from tinyml_fw.tf import tensorflow


@dataclass(frozen=True)
class Trained:
    recipe: str
    model_path: str  # .keras, dynamic batch
    data_path: str  # .npz: x_train, y_train, x_test, y_test, labels
    float_accuracy: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Trained:
        return cls(**json.loads(text))


def default_dir(recipe: str) -> Path:
    tf = tensorflow()
    return home() / "models" / f"{recipe}-tfw{__version__}-tf{tf.__version__}"


def train(recipe_name: str, out_dir: Path | None = None, force: bool = False,
          log=print) -> Trained:
    """Trains `recipe_name` into out_dir (default: the cache) unless a finished run is there."""
    recipe = recipes.get(recipe_name)
    out = Path(out_dir) if out_dir else default_dir(recipe.name)
    meta = out / "train.json"
    if meta.exists() and not force:
        trained = Trained.from_json(meta.read_text())
        if Path(trained.model_path).exists() and Path(trained.data_path).exists():
            log(f"Using trained {recipe.name} from {out}")
            return trained

    tf = tensorflow()
    tf.keras.utils.set_random_seed(recipes.SEED)
    data = recipe.load()
    model = recipe.build(None)
    model.compile(optimizer="adam", loss=recipe.loss, metrics=["accuracy"])
    log(f"Training {recipe.name}: {len(data.x_train)} samples, {recipe.epochs} epochs")
    model.fit(data.x_train, data.y_train, epochs=recipe.epochs, batch_size=recipe.batch_size,
              verbose=0, shuffle=True)
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)

    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "model.keras"
    data_path = out / "data.npz"
    model.save(model_path)
    np.savez_compressed(data_path, x_train=data.x_train, y_train=data.y_train,
                        x_test=data.x_test, y_test=data.y_test, labels=np.array(data.labels))
    trained = Trained(recipe.name, str(model_path), str(data_path), float(accuracy))
    meta.write_text(trained.to_json())
    log(f"Float test accuracy {accuracy:.2%}; saved {model_path}")
    return trained
