"""Shared fixtures: repository paths and a host C compiler for device code."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"


@pytest.fixture(scope="session")
def host_library():
    """compile(sources, out, includes) → a ctypes library of device C code built for the host."""
    return compile_shared


def compile_shared(sources: list[Path], out: Path, includes: list[Path]) -> ctypes.CDLL:
    """Compiles device C sources for the host, warnings as errors, into a library ctypes loads."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no host C compiler (gcc) on this machine")
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-o", str(out),
           *(f"-I{i}" for i in includes), *map(str, sources)]
    subprocess.run(cmd, check=True)
    return ctypes.CDLL(str(out))


SHARED_MODELS = ROOT.parent / "shared" / "models"


def _shared_model(name: str) -> Path:
    path = SHARED_MODELS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the shared reference models must sit beside the project")
    return path


@pytest.fixture(scope="session")
def hello_world_model() -> Path:
    """TFLM's hello_world int8 model (FULLY_CONNECTED only), from ../shared/models."""
    return _shared_model("hello_world_int8.tflite")


@pytest.fixture(scope="session")
def micro_speech_model() -> Path:
    """TFLM's micro_speech model: has DEPTHWISE_CONV_2D, which the first AOT op set lacks."""
    return _shared_model("micro_speech_quantized.tflite")


@pytest.fixture(scope="session")
def unsupported_op_model(tmp_path_factory, hello_world_model) -> Path:
    """TFLM's hello_world with its second operator relabelled GATHER, an op the AOT engine lacks."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(hello_world_model.read_bytes(), 0)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.GATHER
    code.version = 1
    model.operatorCodes.append(code)
    model.subgraphs[0].operators[1].opcodeIndex = len(model.operatorCodes) - 1
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path_factory.mktemp("gather") / "gather.tflite"
    path.write_bytes(bytes(builder.Output()))
    return path


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Runs the real `tinyml-fw` console script in tmp_path; returns the CompletedProcess."""
    import sys

    exe = Path(sys.executable).with_name("tinyml-fw")

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe), *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=timeout)

    return run


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory):
    """Every test uses its own tinyml-fw home (model cache, PlatformIO core), never the user's."""
    import os

    home = tmp_path_factory.mktemp("tinyml-fw-home")
    old = os.environ.get("TINYML_FW_HOME")
    os.environ["TINYML_FW_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("TINYML_FW_HOME", None)
    else:
        os.environ["TINYML_FW_HOME"] = old


@pytest.fixture(scope="session")
def run_on_board(tmp_path_factory):
    """run(model, inputs, board="mps2-an386") → the outputs the emulated board computes, one row per input.

    The real path: generate → PlatformIO build → QEMU → serial link. `inputs` are already in the model's
    input type (e.g. int8), shape (N, …); outputs come back as the model's output type, shape (N, size).
    """
    import numpy as np

    from tinyml_fw.build import build
    from tinyml_fw.flash import device
    from tinyml_fw.generate import Project, generate
    from tinyml_fw.golden import Reference
    from tinyml_fw.link import DeviceLink

    counter = iter(range(10**6))

    def run(model: bytes | Path, inputs, board: str = "mps2-an386"):
        raw = Path(model).read_bytes() if isinstance(model, Path) else model
        work = tmp_path_factory.mktemp(f"board{next(counter)}")
        (work / "model.tflite").write_bytes(raw)
        generate(work / "model.tflite", board, work / "project", log=lambda _: None)
        build(work / "project", log=lambda _: None)
        project = Project.load(work / "project")
        out_dtype = Reference(raw).output["dtype"]
        rows = []
        with device(project) as url, DeviceLink(url) as link:
            link.check(project.model_sha256)
            for x in np.asarray(inputs):
                rows.append(np.frombuffer(link.infer(np.ascontiguousarray(x).tobytes()).output, dtype=out_dtype))
        return np.stack(rows)

    return run


@pytest.fixture(scope="session")
def digits_deployed(tmp_path_factory, isolated_home):
    """`tinyml-fw deploy --recipe digits-mlp` (the 8×8 digits MLP, trained here in seconds; FC → FC → SOFTMAX)
    on the emulated board: (its built project, its data file). Shared by the report, layer and monitor tests."""
    import sys

    work = tmp_path_factory.mktemp("digits")
    exe = Path(sys.executable).with_name("tinyml-fw")
    result = subprocess.run([str(exe), "deploy", "--recipe", "digits-mlp", "--limit", "1", "--out", "out"], cwd=work,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    data = next(isolated_home.glob("cache/trained/digits-mlp-*/data.npz"))
    return work / "out" / "project", data
