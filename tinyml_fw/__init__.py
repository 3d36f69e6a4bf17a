"""tinyml-fw: from a Keras model to a model validated on a microcontroller."""

__version__ = "0.1.0"
