"""Stage 2, quantize: full-integer int8 post-training quantization with a representative data set."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinyml_fw.errors import BadInput
from tinyml_fw.golden import Reference
from tinyml_fw.quiet import quiet_fds
from tinyml_fw.tf import tensorflow

CALIBRATION_SAMPLES = 300


@dataclass(frozen=True)
class Quantized:
    tflite_path: str
    sha256: str
    data_path: str
    float_accuracy: float | None
    int8_accuracy: float | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Quantized:
        return cls(**json.loads(text))


def _batch_one(model):
    """A copy of `model` with batch size 1, so Flatten converts to one RESHAPE (no SHAPE/PACK chain)."""
    tf = tensorflow()
    shape = model.input_shape[1:]
    clone = tf.keras.models.clone_model(model, input_tensors=tf.keras.Input(shape=shape, batch_size=1))
    clone.set_weights(model.get_weights())
    return clone


def convert_int8(model, calibration: np.ndarray) -> bytes:
    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(_batch_one(model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = calibration.astype(np.float32)
    converter.representative_dataset = lambda: ([samples[i : i + 1]] for i in range(len(samples)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with quiet_fds() as log:  # the converter prints pages of MLIR notices to C stdout
        try:
            return converter.convert()
        except Exception as exc:  # the converter raises many unrelated types
            failure = exc
    raise BadInput(f"TFLite conversion failed: {str(failure).splitlines()[0]} "
                   f"(converter log: {log[0][-300:].strip()})")


def quantize(model_path: str | Path, data_path: str | Path, out_dir: str | Path,
             float_accuracy: float | None = None, samples: int = CALIBRATION_SAMPLES,
             log=print) -> Quantized:
    """Converts the Keras model at model_path to an int8 .tflite in out_dir and measures its accuracy."""
    tf = tensorflow()
    model_path = Path(model_path)
    if not model_path.exists():
        raise BadInput(f"Model file not found: {model_path}")
    data = np.load(data_path)
    model = tf.keras.models.load_model(model_path)
    log(f"Quantizing {model_path.name} to int8 with {min(samples, len(data['x_train']))} calibration samples")
    tflite = convert_int8(model, data["x_train"][:samples])

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tflite_path = out / "model.tflite"
    tflite_path.write_bytes(tflite)

    ref = Reference(tflite)
    predictions = ref.run_all(ref.quantize(data["x_test"])).argmax(axis=1)
    int8_accuracy = float(np.mean(predictions == data["y_test"]))
    result = Quantized(str(tflite_path), hashlib.sha256(tflite).hexdigest(), str(data_path),
                       float_accuracy, int8_accuracy)
    (out / "quantize.json").write_text(result.to_json())
    shown = f"float {float_accuracy:.2%}, " if float_accuracy is not None else ""
    log(f"Test accuracy: {shown}int8 {int8_accuracy:.2%} ({len(tflite):,} bytes)")
    return result
