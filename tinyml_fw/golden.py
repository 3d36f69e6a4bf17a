"""The golden reference: TFLM's own interpreter (PyPI tflite-micro) running the exact .tflite bytes."""

from __future__ import annotations

import numpy as np

from tinyml_fw.quiet import quiet_fds


class Reference:
    """One model in the tflite-micro interpreter; reset before every vector, as the device starts fresh."""

    def __init__(self, model: bytes) -> None:
        from tflite_micro import runtime

        with quiet_fds():
            self._it = runtime.Interpreter.from_bytes(model)
        self.input = self._it.get_input_details(0)
        self.output = self._it.get_output_details(0)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float inputs → the model's input type, rounding as the converter's QUANTIZE does; a model with
        float inputs takes them as they are."""
        if np.issubdtype(self.input["dtype"], np.floating):
            return np.asarray(x, dtype=self.input["dtype"])
        q = self.input["quantization_parameters"]
        scale, zp = float(q["scales"][0]), int(q["zero_points"][0])
        info = np.iinfo(self.input["dtype"])
        return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(self.input["dtype"])

    def dequantize(self, outputs: np.ndarray) -> np.ndarray:
        """Outputs in the model's output type → floats (real values)."""
        if np.issubdtype(self.output["dtype"], np.floating):
            return np.asarray(outputs, dtype=np.float32)
        q = self.output["quantization_parameters"]
        return (outputs.astype(np.float32) - int(q["zero_points"][0])) * float(q["scales"][0])

    def run(self, x_q: np.ndarray) -> np.ndarray:
        self._it.reset()
        self._it.set_input(x_q.reshape(self.input["shape"]), 0)
        self._it.invoke()
        return np.array(self._it.get_output(0)).reshape(-1)

    def run_all(self, xs_q: np.ndarray) -> np.ndarray:
        return np.stack([self.run(x) for x in xs_q])


class LayerReference:
    """The same model in a tflite-micro interpreter that preserves every tensor: each layer's output for a
    vector, to find the first layer where a device departs from TFLM."""

    def __init__(self, model: bytes, tensor_count: int) -> None:
        from tflite_micro import runtime

        with quiet_fds():
            self._it = runtime.Interpreter.from_bytes(
                model, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
        self._input = self._it.get_input_details(0)
        self._count = tensor_count  # GetTensor past the last tensor crashes the interpreter: check first

    def tensors(self, x_q: np.ndarray, indices: list[int]) -> dict[int, np.ndarray]:
        """Runs one vector; the flattened values of the tensors `indices` (model tensor indices)."""
        self._it.reset()
        self._it.set_input(x_q.reshape(self._input["shape"]), 0)
        self._it.invoke()
        out = {}
        for t in indices:
            if not 0 <= t < self._count:
                raise ValueError(f"tensor {t} is not in the model ({self._count} tensors)")
            out[t] = np.array(self._it.GetTensor(t, 0)["tensor_data"]).reshape(-1)
        return out
