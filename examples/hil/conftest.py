"""A user's hardware-in-the-loop suite: the model under test, and its test data.

The tinyml-fw pytest plugin (installed with tinyml-fw) provides `board`, `firmware` and `dut`; this file
only says which model to build the firmware from, by overriding the plugin's `model` fixture. Here it is
the digits MLP of the toolkit's `digits-mlp` recipe (trained offline in seconds, then cached); a project of
your own returns the path of its integer .tflite instead.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def trained():
    from tinyml_fw.train import train

    return train("digits-mlp", log=lambda _: None)


@pytest.fixture(scope="session")
def model(trained, tmp_path_factory):
    """The integer .tflite under test (session scope: the firmware is built from it once)."""
    from tinyml_fw.quantize import quantize

    return quantize(trained.model_path, trained.data_path, tmp_path_factory.mktemp("model"),
                    log=lambda _: None).tflite_path


@pytest.fixture(scope="session")
def digits(trained):
    """The test images (floats, as the model's float inputs) and their labels."""
    data = np.load(trained.data_path)
    return data["x_test"], data["y_test"]
