"""Stage 2, quantize: a Keras model, SavedModel or float .tflite → a full-integer .tflite.

Schemes: `int8` (int8 activations and weights, per-channel weights as the converter makes them) and
`16x8` (int16 activations, int8 weights). An already integer .tflite is used as it is. Float and quantized
accuracy (classification) or mean absolute error (regression) are measured side by side.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyml_fw.data import Data, check_inputs, check_labels, load_data, random_data
from tinyml_fw.errors import BadInput
from tinyml_fw.golden import Reference
from tinyml_fw.metrics import is_classification
from tinyml_fw.modelspec import read_model
from tinyml_fw.quiet import quiet_fds
from tinyml_fw.tf import tensorflow

CALIBRATION_SAMPLES = 300
SCHEMES = ("int8", "16x8")


@dataclass(frozen=True)
class Quantized:
    tflite_path: str
    sha256: str
    scheme: str  # int8 | 16x8 | as-is
    source: str  # what was quantized: keras | savedmodel | tflite-float | tflite-int
    metric: str | None  # accuracy | mae | None (no labels)
    float_score: float | None
    quantized_score: float | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _input_kind(model: Any) -> str:
    if not isinstance(model, (str, Path)):
        return "keras"
    path = Path(model)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise BadInput(f"{path} is a folder but not a SavedModel (no saved_model.pb).")
    if not path.is_file():
        raise BadInput(f"Model file not found: {path}")
    if path.suffix in (".keras", ".h5"):
        magic = {".keras": (b"PK\x03\x04", "a zip archive"), ".h5": (b"\x89HDF\r\n\x1a\n", "an HDF5 file")}
        head, what = magic[path.suffix]
        with path.open("rb") as fp:  # checked before TensorFlow loads (seconds), whose own message misleads
            if fp.read(len(head)) != head:
                raise BadInput(f"{path} is not a Keras model (not {what}): save it with model.save() "
                               "in Keras, or give a .tflite file or a SavedModel folder.")
        return "keras"
    if path.suffix == ".tflite":
        spec = read_model(path)
        is_float = spec.tensors[spec.inputs[0]].dtype == "FLOAT32" or any(
            t.dtype == "FLOAT32" and t.is_constant for t in spec.tensors)
        return "tflite-float" if is_float else "tflite-int"
    raise BadInput(f"{path}: unknown model format '{path.suffix}'. Give a .keras, .h5 or .tflite file, or a "
                   "SavedModel folder.")


def _load_keras(model: Any):
    if not isinstance(model, (str, Path)):
        return model
    tf = tensorflow()
    try:
        with quiet_fds():  # no training config: a legacy .h5's loss or metrics may not deserialize in Keras 3
            return tf.keras.models.load_model(model, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise BadInput(f"{model} could not be loaded as a Keras model: {str(exc).splitlines()[0][:200]}") from None


def _batch_one(model):
    """A copy of `model` with batch size 1, so Flatten converts to one RESHAPE (no SHAPE/PACK chain)."""
    tf = tensorflow()
    try:
        clone = tf.keras.models.clone_model(
            model, input_tensors=tf.keras.Input(shape=model.input_shape[1:], batch_size=1))
        clone.set_weights(model.get_weights())
        return clone
    except Exception:  # subclassed or multi-input models: convert as they are
        return model


def _converter(model: Any, kind: str):
    tf = tensorflow()
    if kind == "savedmodel":
        return tf.lite.TFLiteConverter.from_saved_model(str(model))
    return tf.lite.TFLiteConverter.from_keras_model(_batch_one(_load_keras(model)))


def _types(scheme: str):
    tf = tensorflow()
    if scheme == "int8":
        return tf.int8, [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return tf.int16, [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]


def _representative(samples: np.ndarray, shape: tuple[int, ...]):
    samples = samples.astype(np.float32).reshape(len(samples), *shape)
    return lambda: ([samples[i : i + 1]] for i in range(len(samples)))


def _convert(model: Any, kind: str, scheme: str, calibration: np.ndarray, input_shape) -> bytes:
    tf = tensorflow()
    io_type, ops = _types(scheme)
    with quiet_fds() as log:  # the converter prints pages of MLIR notices to C stdout
        try:
            if kind == "tflite-float":
                from tensorflow.lite.python.optimize import calibrator

                raw = Path(model).read_bytes()
                return calibrator.Calibrator(raw).calibrate_and_quantize(
                    _representative(calibration, input_shape), io_type, io_type, False, activations_type=io_type,
                    bias_type=tf.int64 if scheme == "16x8" else tf.int32)
            converter = _converter(model, kind)
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = _representative(calibration, input_shape)
            converter.target_spec.supported_ops = ops
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
            return converter.convert()
        except BadInput:
            raise
        except Exception as exc:  # the converter raises many unrelated types
            failure = exc
    raise BadInput(f"Conversion to {scheme} failed: {str(failure).splitlines()[0][:200]} "
                   f"(converter log: {log[0][-200:].strip()})")


def float_tflite(model: Any) -> bytes:
    """A float .tflite of a Keras model (live or a file) or SavedModel, for analysis: no data needed."""
    kind = _input_kind(model)
    if kind.startswith("tflite"):
        return Path(model).read_bytes()
    with quiet_fds() as log:
        try:
            return _converter(_load_keras(model) if kind == "keras" else model, kind).convert()
        except BadInput:
            raise
        except Exception as exc:  # the converter raises many unrelated types
            failure = exc
    raise BadInput(f"Conversion to TFLite failed: {str(failure).splitlines()[0][:200]} "
                   f"(converter log: {log[0][-200:].strip()})")


def _float_predictions(model: Any, kind: str, x: np.ndarray, shape) -> np.ndarray | None:
    tf = tensorflow()
    x = x.astype(np.float32).reshape(len(x), *shape)
    if kind == "keras":
        keras_model = _load_keras(model)  # called directly: predict() retraces and warns on every call
        chunks = [np.asarray(keras_model(x[i : i + 256], training=False)) for i in range(0, len(x), 256)]
        return np.concatenate(chunks).reshape(len(x), -1)
    if kind == "tflite-float":
        with quiet_fds():
            interpreter = tf.lite.Interpreter(model_path=str(model))
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        rows = []
        for row in x:
            interpreter.set_tensor(inp["index"], row[None].reshape(inp["shape"]))
            interpreter.invoke()
            rows.append(interpreter.get_tensor(out["index"]).reshape(-1))
        return np.stack(rows)
    return None  # a SavedModel's signature varies: no float score


def score(predictions: np.ndarray | None, y: np.ndarray | None) -> tuple[str | None, float | None]:
    """(metric, value): top-1 accuracy when y holds class indices, else mean absolute error."""
    if predictions is None or y is None:
        return None, None
    if is_classification(predictions.shape[1], y):
        return "accuracy", float(np.mean(predictions.argmax(axis=1) == y))
    return "mae", float(np.mean(np.abs(predictions.reshape(len(y), -1) - np.asarray(y).reshape(len(y), -1))))


def _input_shape(model: Any, kind: str) -> tuple[int, ...]:
    if kind in ("tflite-float", "tflite-int"):
        spec = read_model(model)
        return tuple(spec.tensors[spec.inputs[0]].shape[1:])
    if kind == "keras":
        return tuple(int(d) for d in _load_keras(model).input_shape[1:])
    return ()


def quantize(model: Any, data: Data | str | Path | None = None, out_dir: str | Path = "model",
             scheme: str = "int8", samples: int = CALIBRATION_SAMPLES, random: int | None = None,
             max_drop: float | None = None, log=print) -> Quantized:
    """Quantizes `model` (a live Keras model, or a path) into out_dir/model.tflite and scores both sides."""
    if scheme not in SCHEMES:
        raise BadInput(f"Unknown quantization scheme '{scheme}': use one of {', '.join(SCHEMES)}.")
    if samples < 1:
        raise BadInput("--samples must be at least 1.")
    kind = _input_kind(model)
    if kind == "keras":
        model = _load_keras(model)
    shape = _input_shape(model, kind)
    if isinstance(data, (str, Path)):
        data = load_data(data)
    if data is None:
        if random is None:
            raise BadInput("No data: give --data FILE (.npz with 'x', optionally 'y') or --random N.")
        if kind == "savedmodel":
            raise BadInput("--random needs the model's input shape: give a Keras or .tflite model, or --data.")
        data = random_data(shape, random)
    if shape:
        check_inputs(data, shape)

    if kind == "tflite-int":
        tflite, used = Path(model).read_bytes(), "as-is"
        log(f"{Path(model).name} is already an integer model: used as it is")
    else:
        calibration = data.calibration[:samples]
        log(f"Quantizing ({scheme}) with {len(calibration)} calibration samples")
        tflite, used = _convert(model, kind, scheme, calibration, shape or data.calibration.shape[1:]), scheme

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.tflite").write_bytes(tflite)
    except OSError as exc:
        raise BadInput(f"Cannot write to {out}: {exc.strerror or exc}.") from None
    ref = Reference(tflite)
    if data.y is not None:  # labels that cannot be compared with the outputs: say so, not a wrong score
        check_labels(data, int(np.prod(ref.output["shape"][1:])))
    quantized = ref.dequantize(ref.run_all(ref.quantize(data.x.reshape(len(data.x), -1))))
    metric, q_score = score(quantized, data.y)
    _, f_score = score(_float_predictions(model, kind, data.x, shape or data.x.shape[1:]), data.y)
    result = Quantized(str(out / "model.tflite"), hashlib.sha256(tflite).hexdigest(), used,
                       kind, metric, f_score, q_score)
    (out / "quantize.json").write_text(result.to_json())
    _report(result, max_drop, len(tflite), log)
    return result


def _report(q: Quantized, max_drop: float | None, size: int, log) -> None:
    if q.metric is None:
        log(f"Wrote {q.tflite_path} ({size:,} bytes); no labels, so no accuracy")
        return
    fmt = (lambda v: "–" if v is None else f"{v:.2%}") if q.metric == "accuracy" else (
        lambda v: "–" if v is None else f"{v:.4f}")
    log(f"Test {q.metric}: float {fmt(q.float_score)}, {q.scheme} {fmt(q.quantized_score)} ({size:,} bytes)")
    if max_drop is not None and q.float_score is not None and q.quantized_score is not None:
        drop = (q.float_score - q.quantized_score) if q.metric == "accuracy" else (q.quantized_score - q.float_score)
        if drop > max_drop:
            log(f"warning: quantization costs {drop:.4f} in {q.metric}, more than --max-drop {max_drop}")
