"""tinyml-fw: from a Keras model to a model validated on a microcontroller.

The Python API mirrors the CLI, one function per stage:

    import tinyml_fw
    trained = tinyml_fw.train("digits-mlp")
    q = tinyml_fw.quantize(keras_model, "data.npz", "model")      # a live Keras model works too
    tinyml_fw.analyze(q.tflite_path, board="mps2-an386")
    project = tinyml_fw.generate(q.tflite_path, "mps2-an386", "project")
    tinyml_fw.build(project.path)
    report = tinyml_fw.validate(project.path, "data.npz")
    tinyml_fw.deploy("mnist-mlp")                                   # all of it
"""

__version__ = "0.1.0"

# Stage entry points. Imported after __version__ (stages read it); none imports TensorFlow at load time.
from tinyml_fw.train import train
from tinyml_fw.quantize import quantize
from tinyml_fw.analyze import analyze
from tinyml_fw.generate import generate
from tinyml_fw.build import build
from tinyml_fw.flash import flash
from tinyml_fw.validate import validate
from tinyml_fw.deploy import deploy

__all__ = ["__version__", "train", "quantize", "analyze", "generate", "build", "flash", "validate", "deploy"]
