"""The bad-input catalog (issue 11): every way a user can hand tinyml-fw something unusable.

Each case runs the real `tinyml-fw` console script and asserts: its documented non-zero exit code, exactly one
line on stderr that starts with `error: ` and names the problem (the `needles`), no traceback, and no process
left behind (every process the CLI started carries a marker in its environment; none may outlive it).
`--debug` shows the traceback (test_debug_shows_the_traceback). Ctrl-C (to the process, and to its whole
process group as a terminal sends it), SIGTERM and SIGHUP go to real `build`, `flash` and `validate` runs.
The emulated board and fake ones (TCP servers) stand in for boards. The cases that fail at once run two at a
time (fixture `outcomes`) to keep the file near a minute.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tinyml_fw import errors, protocol

VENV_BIN = Path(sys.executable).parent
EXE = VENV_BIN / "tinyml-fw"
MARK = "TFW_BAD_INPUT_MARK"
WEIRD = "dir ü 'q' \"dq\" $(touch pwned) `id`; & | *"  # spaces, unicode, quotes, shell and C metacharacters


# ------------------------------------------------------------------------------------------- processes

def marked(mark: str) -> list[str]:
    """Live processes (not zombies) whose environment carries `mark`: `pid cmdline` each."""
    found = []
    needle = f"{MARK}={mark}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fp:
                if needle not in fp.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as fp:
                if fp.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as fp:
                cmdline = fp.read().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append(f"{entry} {cmdline}")
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def leftovers(mark: str, grace: float = 0.3) -> list[str]:
    """What is still running `grace` s after the CLI ended (it waits for what it stops: no slack needed)."""
    deadline = time.monotonic() + grace
    while True:
        left = marked(mark)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _env(path: str | None = None) -> tuple[dict[str, str], str]:
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK: mark})
    if path is not None:
        env["PATH"] = path
    return env, mark


def cli(*args: str, cwd: Path, path: str | None = None, fsize: int | None = None, env: dict | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """The console script, in `cwd`; `path` replaces PATH, `env` adds variables, `fsize` caps the size of the
    files it writes. Asserts that no process it started is still running afterwards."""
    run_env, mark = _env(path)
    run_env.update(env or {})
    argv = [str(EXE), *args]
    if fsize is not None:  # a write past the cap fails (EFBIG), as on a full disk
        cap = (f"import os, resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
               f"resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize})); os.execv(sys.argv[1], sys.argv[1:])")
        argv = [sys.executable, "-c", cap, *argv]
    result = subprocess.run(argv, cwd=cwd, env=run_env, capture_output=True, text=True, timeout=timeout,
                            check=False)
    assert leftovers(mark) == [], f"processes left behind by tinyml-fw {' '.join(args)}"
    return result


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, needles: tuple[str, ...]) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def tools_path(tmp: Path, keep: tuple[str, ...] = ()) -> str:
    """A PATH with the venv and only the `keep` tools: no Arm compiler, no QEMU."""
    tools = tmp / "tools"
    tools.mkdir(exist_ok=True)
    for tool in keep:
        (tools / tool).symlink_to(shutil.which(tool))
    return f"{VENV_BIN}:{tools}"


# ------------------------------------------------------------------------------------------- models

def _mutated(raw: bytes, change: Callable) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(raw, 0)
    change(model, schema)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _all_float(model, schema) -> None:
    for t in model.subgraphs[0].tensors:
        t.type, t.quantization = schema.TensorType.FLOAT32, None


def _activation(model, schema, **fields) -> None:
    graph = model.subgraphs[0]
    tensor = graph.tensors[graph.operators[0].outputs[0]]
    for key, value in fields.items():
        setattr(tensor, key, value)


def _dynamic_input(model, schema) -> None:
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].shape = np.array([1, -1], dtype=np.int32)


def _scrambled(raw: bytes) -> bytes:
    rng = random.Random(1)
    return raw[:8] + bytes(rng.randrange(256) for _ in raw[8:])


# ------------------------------------------------------------------------------------------- shared state

@dataclass
class World:
    tmp: Path  # this test's folder (the CLI's cwd)
    hello: Path  # hello_world int8 .tflite (1 input, 1 output)
    speech: Path  # micro_speech int8 .tflite (4 outputs)
    built: Path  # a built hello_world project (shared: cases only read it)
    speech_project: Path  # a generated (not built) micro_speech project


@pytest.fixture(scope="module")
def built(tmp_path_factory, isolated_home, hello_world_model, micro_speech_model) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("catalog")
    for args in (("generate", str(hello_world_model), "--out", "hello"), ("build", "hello"),
                 ("generate", str(micro_speech_model), "--out", "speech")):
        result = subprocess.run([str(EXE), *args], cwd=work, capture_output=True, text=True, timeout=300,
                                check=False)
        assert result.returncode == 0, result.stderr
    return work / "hello", work / "speech"


@pytest.fixture
def world(tmp_path, built, hello_world_model, micro_speech_model) -> World:
    return World(tmp_path, hello_world_model, micro_speech_model, *built)


def npz(w: World, name: str, **arrays) -> str:
    np.savez(w.tmp / name, **arrays)
    return name


def write(w: World, name: str, data: bytes | str) -> str:
    path = w.tmp / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return name


# ------------------------------------------------------------------------------------------- fake devices

class FakeDevice:
    """A TCP 'board' for `--port socket://…`: silent, spewing bytes, or answering HELLO as `answer` says."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.05)
                parser, rng = protocol.FrameParser(), random.Random(7)
                while not self.stop.is_set():
                    try:
                        data = conn.recv(4096)
                        if not data:
                            break
                    except TimeoutError:
                        data = b""
                    except OSError:
                        break
                    try:
                        if self.behaviour == "garbage":
                            conn.sendall(bytes(rng.randrange(256) for _ in range(64)))
                        elif self.behaviour == "old-protocol":
                            for frame in parser.feed(data):
                                if frame.type == protocol.Msg.HELLO:
                                    conn.sendall(protocol.encode(protocol.Msg.INFO, frame.seq, _info_v1()))
                    except OSError:
                        break

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        self.thread.join(timeout=2)


def _info_v1() -> bytes:
    """INFO as protocol version 1 firmware sends it."""
    fixed = struct.pack("<HH32s6I", 1, 256, bytes(32), 4, 4, 1000, 100, 32, 1000)
    return fixed + b"".join(bytes([len(s)]) + s for s in (b"mps2-an386", b"aot", b"0.0.1"))


# ------------------------------------------------------------------------------------------- the catalog

@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[World], list[str]]
    code: int
    needles: tuple[str, ...]
    path: Callable[[World], str] | None = None  # PATH for the run (None: the test's own)
    fsize: int | None = None
    env: Callable[[World], dict] | None = None  # more environment variables


BAD = errors.EXIT_BAD_INPUT
DEVICE = errors.EXIT_DEVICE
TOOL = errors.EXIT_MISSING_TOOL
BUILD = errors.EXIT_BUILD_FAILED

CASES = [
    # Files that are not models.
    Case("model-missing", lambda w: ["generate", "no-such-model.tflite"], BAD,
         ("Model file not found", "no-such-model.tflite")),
    Case("model-empty", lambda w: ["analyze", write(w, "empty.tflite", b"")], BAD, ("not a TFLite model",)),
    Case("model-truncated-header", lambda w: ["generate", write(w, "cut.tflite", w.hello.read_bytes()[:7])], BAD,
         ("not a TFLite model",)),
    Case("model-truncated-half", lambda w: [
        "generate", write(w, "half.tflite", w.hello.read_bytes()[:len(w.hello.read_bytes()) // 2])], BAD,
        ("damaged TFLite model", "re-export")),
    Case("model-corrupted", lambda w: ["analyze", write(w, "bad.tflite", _scrambled(w.hello.read_bytes()))], BAD,
         ("damaged TFLite model",)),
    Case("model-is-text", lambda w: ["generate", write(w, "notes.tflite", "just text, not a model")], BAD,
         ("not a TFLite model", "give a .tflite file")),
    Case("model-is-a-zip", lambda w: ["analyze", write(w, "z.tflite", b"PK\x03\x04" + bytes(200))], BAD,
         ("not a TFLite model",)),
    Case("model-folder-not-savedmodel", lambda w: ["analyze", "."], BAD, ("not a SavedModel",)),
    Case("model-unknown-format", lambda w: ["quantize", write(w, "m.onnx", b"onnx"), "--random", "2"], BAD,
         ("unknown model format '.onnx'",)),
    Case("keras-not-a-zip", lambda w: ["quantize", write(w, "m.keras", "text"), "--random", "2"], BAD,
         ("m.keras is not a Keras model", "not a zip archive")),
    Case("keras-without-data", lambda w: ["generate", write(w, "m.keras", "x")], BAD,
         ("must be quantized first", "--data")),
    # Models tinyml-fw cannot run.
    Case("float-model-to-aot", lambda w: ["generate", write(w, "f.tflite", _mutated(w.hello.read_bytes(),
                                                                                   _all_float))], BAD,
         ("FLOAT32 tensor", "AOT engine runs int8", "tinyml-fw quantize")),
    Case("unsupported-operator", lambda w: ["generate", write(w, "g.tflite", _mutated(
        w.hello.read_bytes(), lambda m, s: _gather(m, s)))], BAD, ("Operator GATHER in layer 1", "not supported")),
    Case("unsupported-quantization-missing", lambda w: ["generate", write(w, "q.tflite", _mutated(
        w.hello.read_bytes(), lambda m, s: _activation(m, s, quantization=None)))], BAD,
         ("has no quantization parameters",)),
    Case("unsupported-type-uint8", lambda w: ["generate", write(w, "u.tflite", _mutated(
        w.hello.read_bytes(), lambda m, s: _activation(m, s, type=s.TensorType.UINT8)))], BAD,
         ("UINT8 tensor", "int8")),
    Case("dynamic-shape", lambda w: ["generate", write(w, "d.tflite", _mutated(w.hello.read_bytes(),
                                                                              _dynamic_input))], BAD,
         ("dynamic shape [1, -1]", "fixed shapes")),
    Case("model-too-large", lambda w: ["generate", str(w.speech), "--board", "uno"], BAD,
         ("does not fit uno", "RAM", "smaller model")),
    # Data that does not fit the model.
    Case("data-missing", lambda w: ["validate", str(w.built), "--data", "nope.npz"], BAD, ("Data file not found",)),
    Case("data-corrupted", lambda w: ["validate", str(w.built), "--data", write(w, "x.npz", b"PK\x03\x04junk")],
         BAD, ("not a readable .npz/.npy",)),
    Case("data-pickled-objects", lambda w: ["validate", str(w.built), "--data", _pickled(w)], BAD,
         ("not a readable", "allow_pickle")),
    Case("data-without-x", lambda w: ["validate", str(w.built), "--data", npz(w, "n.npz", z=np.zeros(3))], BAD,
         ("has no inputs", "'x'")),
    Case("data-empty", lambda w: ["validate", str(w.built), "--data",
                                  npz(w, "e.npz", x=np.zeros((0, 1), np.float32))], BAD,
         ("no validation inputs", "'x'")),
    Case("data-wrong-shape", lambda w: ["validate", str(w.built), "--data",
                                        npz(w, "s.npz", x=np.zeros((3, 28, 28), np.float32))], BAD,
         ("shape [28, 28]", "the model takes [1]")),
    Case("data-wrong-dtype", lambda w: ["validate", str(w.built), "--data", npz(w, "t.npz", x=np.array([["a"]]))],
         BAD, ("not real numbers",)),
    Case("data-none-given", lambda w: ["validate", str(w.built)], BAD, ("No test vectors", "--random N")),
    Case("labels-count", lambda w: ["validate", str(w.built), "--data", npz(
        w, "l.npz", x=np.zeros((4, 1), np.float32), y=np.zeros(3))], BAD, ("4 inputs but 3 labels",)),
    Case("labels-width", lambda w: ["validate", str(w.built), "--data", npz(
        w, "l.npz", x=np.zeros((4, 1), np.float32), y=np.zeros((4, 3), np.float32))], BAD,
         ("3 values per input", "1 output")),
    Case("labels-width-quantize", lambda w: ["quantize", str(w.hello), "--out", "q", "--data", npz(
        w, "l.npz", x=np.zeros((4, 1), np.float32), y=np.zeros((4, 2, 2), np.float32))], BAD,
         ("4 values per input", "1 output")),
    Case("labels-not-numbers", lambda w: ["validate", str(w.built), "--data", npz(
        w, "l.npz", x=np.zeros((2, 1), np.float32), y=np.array(["cat", "dog"]))], BAD, ("labels are <U3",)),
    Case("labels-out-of-classes", lambda w: ["validate", str(w.speech_project), "--data", npz(
        w, "l.npz", x=np.zeros((2, 1960), np.float32), y=np.array([1, 7]))], BAD,
         ("labels run from 1 to 7", "4 outputs")),
    # The command line itself.
    Case("usage-unknown-verb", lambda w: ["generat", str(w.hello)], BAD, ("No such command 'generat'", "-h")),
    Case("usage-option-out-of-range", lambda w: ["validate", str(w.built), "--random", "0"], BAD,
         ("Invalid value for '--random'", "tinyml-fw validate -h")),
    # Boards, recipes, runtimes, projects.
    Case("board-unknown-close", lambda w: ["generate", str(w.hello), "--board", "mps2-an38"], BAD,
         ("Unknown board 'mps2-an38'", "Did you mean: mps2-an386")),
    Case("board-unknown-far", lambda w: ["analyze", str(w.hello), "--no-arena", "--board", "zzz"], BAD,
         ("Unknown board 'zzz'", "Known boards:", "nano33ble")),
    Case("board-unknown-monitor", lambda w: ["monitor", "--port", "/dev/null", "--board", "nano33"], BAD,
         ("Unknown board 'nano33'", "nano33ble")),
    Case("recipe-unknown-train", lambda w: ["train", "--recipe", "mnist-mpl"], BAD,
         ("Unknown recipe 'mnist-mpl'", "mnist-mlp")),
    Case("recipe-unknown-deploy", lambda w: ["deploy", "--recipe", "sinus"], BAD, ("Unknown recipe 'sinus'", "sine")),
    Case("runtime-not-on-board", lambda w: ["generate", str(w.hello), "--board", "uno", "--runtime", "tflm"], BAD,
         ("supports runtime aot, not 'tflm'",)),
    Case("tflm-without-tree", lambda w: ["generate", str(w.hello), "--runtime", "tflm"], BAD,
         ("give --tflm-tree DIR",)),
    Case("tflm-tree-not-a-tree", lambda w: ["generate", str(w.hello), "--tflm-tree", "."], BAD,
         ("is not a TFLM tree", "create_tflm_tree.py")),
    Case("tflm-tree-shell-characters", lambda w: ["generate", str(w.hello), "--tflm-tree", _odd_tree(w)], BAD,
         ("The TFLM tree's path", "shell characters", "plain path")),
    Case("project-missing", lambda w: ["build", "nowhere"], BAD, ("not a tinyml-fw project", "tinyml-fw generate")),
    Case("project-manifest-damaged", lambda w: ["build", _damaged_project(w)], BAD, ("is damaged", "--force")),
    Case("project-not-built", lambda w: ["validate", str(w.speech_project), "--random", "1"], BUILD,
         ("No firmware", "tinyml-fw build")),
    Case("real-board-offline", lambda w: ["build", _nano_project(w)], BUILD,
         ("Cannot build for nano33ble here", "--board mps2-an386")),
    Case("model-changed-after-build", lambda w: ["validate", _swapped_model(w), "--random", "1"], DEVICE,
         ("runs model", "flash the firmware")),
    # Serial ports and devices.
    Case("port-missing", lambda w: ["validate", str(w.built), "--random", "1", "--port", "/dev/ttyNOPE9"], DEVICE,
         ("/dev/ttyNOPE9 does not exist", "is the board connected")),
    Case("port-is-a-file", lambda w: ["validate", str(w.built), "--random", "1", "--port", write(w, "f", "x")],
         DEVICE, ("f is not a serial port", "/dev/ttyACM0")),
    Case("port-is-a-folder", lambda w: ["validate", str(w.built), "--random", "1", "--port", "."], DEVICE,
         ("is not a serial port",)),
    Case("port-monitor-missing", lambda w: ["monitor", "--port", "/dev/ttyNOPE9"], DEVICE, ("does not exist",)),
    Case("port-nothing-listens", lambda w: ["validate", str(w.built), "--random", "1", "--port",
                                            f"socket://127.0.0.1:{_closed_port()}"], DEVICE,
         ("Nothing listens at socket://127.0.0.1:", "tinyml-fw flash")),
    # Tools.
    Case("compiler-missing", lambda w: ["build", str(w.built)], TOOL,
         ("arm-none-eabi-gcc not found", "gcc-arm-none-eabi"), path=lambda w: tools_path(w.tmp)),
    Case("emulator-missing-flash", lambda w: ["flash", str(w.built)], TOOL,
         ("qemu-system-arm not found", "Install qemu-system-arm"), path=lambda w: tools_path(w.tmp)),
    Case("emulator-missing-validate", lambda w: ["validate", str(w.built), "--random", "1"], TOOL,
         ("qemu-system-arm not found",), path=lambda w: tools_path(w.tmp, ("arm-none-eabi-size",))),
    Case("doctor-tools-missing", lambda w: ["doctor"], TOOL,
         ("required pieces are missing", "arm-none-eabi-gcc", "qemu-system-arm", "make setup"),
         path=lambda w: tools_path(w.tmp)),
    # Where the output goes.
    Case("out-is-a-file", lambda w: ["generate", str(w.hello), "--out", write(w, "taken", "x")], BAD,
         ("Directory 'taken' is a file", "tinyml-fw generate -h")),
    Case("out-under-a-file", lambda w: ["generate", str(w.hello), "--out", write(w, "taken", "x") + "/p"], BAD,
         ("Cannot write the project to taken/p",)),
    Case("out-links-outside", lambda w: ["generate", str(w.hello), "--out", _linked_project(w)], BAD,
         ("would be written outside the project", "remove that link")),
    Case("out-path-with-dollar", lambda w: ["generate", str(w.hello), "--out", "price$HOME"], BAD,
         ("PlatformIO cannot build in", "price$HOME", "has no '$'")),
    Case("out-not-writable", lambda w: ["generate", str(w.hello), "--out", "/sys/tinyml-fw-project"], BAD,
         ("Cannot write the project to /sys/tinyml-fw-project",)),
    Case("out-disk-full", lambda w: ["generate", str(w.hello), "--out", "p"], BAD,
         ("Cannot write the project to p", "File too large"), fsize=1024),
    Case("json-disk-full", lambda w: ["analyze", str(w.hello), "--no-arena", "--json", "/dev/full"], BAD,
         ("Cannot write /dev/full", "No space left on device")),
    Case("json-folder-missing", lambda w: ["analyze", str(w.hello), "--no-arena", "--json", "no/dir/a.json"], BAD,
         ("Cannot write no/dir/a.json",)),
    Case("home-not-writable", lambda w: ["build", str(w.built)], BAD,
         ("Cannot prepare tinyml-fw's PlatformIO core", "TINYML_FW_HOME"),
         env=lambda w: {"TINYML_FW_HOME": str(w.tmp / write(w, "home-file", "a file, not a folder"))}),
    # Names and paths with spaces, unicode, quotes and metacharacters, passed through verbatim.
    Case("weird-model-name", lambda w: ["generate", f"{WEIRD}.tflite"], BAD,
         ("Model file not found", f"{WEIRD}.tflite")),
    Case("weird-board-name", lambda w: ["generate", str(w.hello), "--board", WEIRD], BAD,
         (f"Unknown board '{WEIRD}'",)),
    Case("weird-data-name", lambda w: ["validate", str(w.built), "--data", f"dätä {WEIRD}.npz"], BAD,
         (f"Data file not found: dätä {WEIRD}.npz",)),
    Case("weird-port-name", lambda w: ["validate", str(w.built), "--random", "1", "--port", f"/dev/{WEIRD}"],
         DEVICE, (f"/dev/{WEIRD} does not exist",)),
    Case("weird-project-name", lambda w: ["build", WEIRD], BAD, (f"{WEIRD} is not a tinyml-fw project",)),
]


def _gather(model, schema) -> None:
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.GATHER
    code.version = 1
    model.operatorCodes.append(code)
    model.subgraphs[0].operators[1].opcodeIndex = len(model.operatorCodes) - 1


def _pickled(w: World) -> str:
    np.save(w.tmp / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return "o.npy"


def _damaged_project(w: World) -> str:
    (w.tmp / "damaged").mkdir()
    write(w, "damaged/tinyml-fw.json", '{"board": ')
    return "damaged"


def _nano_project(w: World) -> str:
    result = cli("generate", str(w.hello), "--board", "nano33ble", "--runtime", "aot", "--out", "nano", cwd=w.tmp)
    assert result.returncode == 0, result.stderr
    return "nano"


def _swapped_model(w: World) -> str:
    """The built hello_world project whose model.tflite was replaced after the build: its firmware (which
    the emulator runs) reports another model's hash."""
    shutil.copytree(w.built, w.tmp / "swapped", symlinks=True)
    shutil.copyfile(w.speech, w.tmp / "swapped" / "model.tflite")
    return "swapped"


def _odd_tree(w: World) -> str:
    """A TFLM tree (the files create_tflm_tree.py makes that `load` checks) in a folder named `t;$(touch pwned)`."""
    from tinyml_fw.tflm_tree import THIRD_PARTY_INCLUDES

    root = w.tmp / "t;$(touch pwned)"
    (root / "tensorflow/lite/micro").mkdir(parents=True)
    (root / "tensorflow/lite/micro/micro_interpreter.h").write_text("")
    for rel in THIRD_PARTY_INCLUDES[:3]:
        (root / rel).mkdir(parents=True)
    return root.name


def _linked_project(w: World) -> str:
    """A project folder whose src/ is a symlink to a folder outside it."""
    (w.tmp / "elsewhere").mkdir()
    (w.tmp / "linked").mkdir()
    (w.tmp / "linked" / "src").symlink_to(w.tmp / "elsewhere")
    return "linked"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_case(case: Case, w: World) -> subprocess.CompletedProcess | BaseException:
    try:
        return cli(*case.args(w), cwd=w.tmp, path=case.path(w) if case.path else None, fsize=case.fsize,
                   env=case.env(w) if case.env else None)
    except BaseException as exc:  # noqa: BLE001 - raised again by the case's own test
        return exc


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, built, hello_world_model, micro_speech_model) -> dict:
    """The selected cases' runs, two at a time (each is mostly the CLI starting up and failing at once)."""
    from concurrent.futures import ThreadPoolExecutor

    if any(getattr(item, "originalname", "") == "test_bad_device" for item in request.session.items):
        request.getfixturevalue("device_outcomes")  # the slow, idle device runs start first, in the background

    wanted = {item.callspec.params["case"].id for item in request.session.items
              if getattr(item, "originalname", "") == "test_bad_input" and hasattr(item, "callspec")}
    worlds = {c.id: World(tmp_path_factory.mktemp(c.id), hello_world_model, micro_speech_model, *built)
              for c in CASES if c.id in wanted}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c.id: pool.submit(_run_case, c, worlds[c.id]) for c in CASES if c.id in wanted}
        return {key: (future.result(), worlds[key]) for key, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, outcomes):
    result, w = outcomes[case.id]
    if isinstance(result, BaseException):
        raise result
    assert_one_line_error(result, case.code, case.needles)
    assert not (w.tmp / "pwned").exists()  # nothing went through a shell


# ------------------------------------------------------------------------------------------- devices

DEVICE_CASES = {
    "silent": ("No valid frame from the device", "firmware is not running"),
    "garbage": ("No valid frame from the device", "corrupt frames dropped", "Is the port right?"),
    "old-protocol": ("speaks protocol 1", "regenerate and rebuild"),
}


@pytest.fixture(scope="module")
def device_outcomes(built, tmp_path_factory):
    """A device that never answers, one that answers garbage, one of protocol version 1: started in the
    background at once (the first two wait out the link's whole 10 s timeout, idle, while the catalog runs)."""
    from concurrent.futures import ThreadPoolExecutor

    devices = {behaviour: FakeDevice(behaviour) for behaviour in DEVICE_CASES}
    cwd = tmp_path_factory.mktemp("devices")
    pool = ThreadPoolExecutor(max_workers=len(devices))
    futures = {b: pool.submit(cli, "validate", str(built[0]), "--random", "1", "--port", d.url, cwd=cwd)
               for b, d in devices.items()}
    yield futures
    pool.shutdown(wait=True)
    for device in devices.values():
        device.close()


@pytest.mark.parametrize("behaviour", DEVICE_CASES,
                         ids=["device-never-answers", "device-answers-garbage", "device-old-protocol"])
def test_bad_device(behaviour, device_outcomes):
    assert_one_line_error(device_outcomes[behaviour].result(timeout=120), DEVICE, DEVICE_CASES[behaviour])


@pytest.mark.parametrize("verb", ["validate", "monitor"])
def test_port_busy(world: World, verb: str):
    """A local port another program holds (an exclusive lock, as pyserial's `exclusive=True` takes, and as
    validate and monitor take themselves)."""
    import serial

    controller, device = os.openpty()
    name = os.ttyname(device)
    holder = serial.Serial(name, exclusive=True)
    args = [str(world.built), "--random", "1"] if verb == "validate" else []
    try:
        result = cli(verb, *args, "--port", name, cwd=world.tmp)
    finally:
        holder.close()
        os.close(controller)
        os.close(device)
    assert_one_line_error(result, DEVICE, (f"Serial port {name} is busy", "Close it"))


# ------------------------------------------------------------------------------------------- --debug

@pytest.mark.parametrize("args", [["generate", "no-such-model.tflite"], ["train", "--recipe", "x"],
                                  ["build", "nowhere"]], ids=["model", "recipe", "project"])
def test_debug_shows_the_traceback(args, tmp_path):
    result = cli("--debug", *args, cwd=tmp_path)
    assert result.returncode == BAD
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


# ------------------------------------------------------------------------------------------- signals

def _wait_for(mark: str, what: Callable[[str], bool], proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = next((p for p in marked(mark) if what(p)), None)
        if hit:
            return hit
        assert proc.poll() is None, "tinyml-fw ended before the moment to interrupt it"
        time.sleep(0.02)
    raise AssertionError("the moment to interrupt never came")


def _compiler(p: str) -> bool:
    return "cc1" in p or "arm-none-eabi-" in p


def _qemu(p: str) -> bool:
    return "qemu-system-arm" in p


@pytest.mark.parametrize("verb,moment,sig,code", [
    ("build", _compiler, signal.SIGINT, errors.EXIT_INTERRUPTED),
    ("flash", _qemu, signal.SIGINT, errors.EXIT_INTERRUPTED),
    ("validate", _qemu, signal.SIGINT, errors.EXIT_INTERRUPTED),
    ("flash", _qemu, signal.SIGTERM, 128 + signal.SIGTERM),
    ("build", _compiler, signal.SIGTERM, 128 + signal.SIGTERM),
    ("validate", _qemu, signal.SIGHUP, 128 + signal.SIGHUP),
    ("build", _compiler, -signal.SIGINT, errors.EXIT_INTERRUPTED),
    ("validate", _qemu, -signal.SIGINT, errors.EXIT_INTERRUPTED),
], ids=["ctrl-c-build", "ctrl-c-flash", "ctrl-c-validate", "sigterm-flash", "sigterm-build", "sighup-validate",
        "terminal-ctrl-c-build", "terminal-ctrl-c-validate"])
def test_interrupted(verb, moment, sig, code, world: World):
    """The signal goes to the tinyml-fw process alone, which must still end everything it started; or, as a
    negative `sig`, to its whole process group, as a terminal's Ctrl-C does (QEMU gets it too)."""
    if verb == "build":
        result = cli("generate", str(world.hello), "--out", "p", cwd=world.tmp)
        assert result.returncode == 0, result.stderr
        project = "p"
    else:
        project = str(world.built)
    args = {"build": ["build", project], "flash": ["flash", project],
            "validate": ["validate", project, "--random", "5000"]}[verb]
    env, mark = _env()
    with open(world.tmp / "out", "wb") as out, open(world.tmp / "err", "wb") as err:
        proc = subprocess.Popen([str(EXE), *args], cwd=world.tmp, env=env, stdout=out, stderr=err,
                                start_new_session=True)
        try:
            _wait_for(mark, moment, proc)
            if verb == "validate":
                time.sleep(1.0)  # vectors are on the link
            if sig < 0:
                os.killpg(proc.pid, -sig)
            else:
                proc.send_signal(sig)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = (world.tmp / "err").read_text()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    expected = "interrupted" if abs(sig) == signal.SIGINT else f"terminated ({signal.Signals(sig).name})"
    assert stderr.strip().splitlines() == [expected]
    assert leftovers(mark) == [], "processes left behind"


# ------------------------------------------------------------------------------------------- never outside

def test_a_forged_manifest_removes_nothing_outside_the_project(world: World):
    """tinyml-fw.json lists the files generate wrote, which a later generate may remove: entries that point
    outside the project ('../x', '/x') are ignored, even with --force."""
    import hashlib

    victims = [world.tmp / "victim.txt", world.tmp / "abs victim.txt"]
    for victim in victims:
        victim.write_text("keep me")
    sha = hashlib.sha256(b"keep me").hexdigest()
    (world.tmp / "p").mkdir()
    write(world, "p/tinyml-fw.json", f'{{"files": {{"../victim.txt": "{sha}", "{victims[1]}": "{sha}", '
                                     f'"src/../../victim.txt": "{sha}"}}}}')
    result = cli("generate", str(world.hello), "--out", "p", "--force", cwd=world.tmp)
    assert result.returncode == 0, result.stderr
    assert all(v.read_text() == "keep me" for v in victims)
    assert (world.tmp / "p" / "src" / "model" / "tfw_config.h").is_file()


# ------------------------------------------------------------------------------------------- names that work

def test_metacharacters_in_names_and_paths_build(world: World):
    """A model name and a project folder full of quotes, spaces, unicode and metacharacters: the C names are
    sanitised, the paths passed through verbatim, nothing goes through a shell, and the firmware builds."""
    folder = f"out {WEIRD}".replace("$", "")  # '$' is refused (test_bad_input[out-path-with-dollar])
    result = cli("generate", str(world.hello), "--out", folder, "--name", f"my \"model\" */ {WEIRD}", cwd=world.tmp)
    assert result.returncode == 0, result.stderr
    sources = sorted(p.name for p in (world.tmp / folder / "src" / "model").iterdir())
    assert sources == ["my_model_dir_q_dq_touch_pwned_id_model.c", "my_model_dir_q_dq_touch_pwned_id_model_data.c",
                       "tfw_config.h"]
    result = cli("build", folder, cwd=world.tmp)
    assert result.returncode == 0, result.stderr
    assert (world.tmp / folder / ".pio/build/mps2-an386/firmware.elf").is_file()
    assert not (world.tmp / "pwned").exists()



@pytest.mark.parametrize("name", ["not", "int8_t"])
def test_labels_and_tensor_names_with_metacharacters_compile_verbatim(tmp_path, hello_world_model, name):
    """Labels, tensor names and model names reach C++ only through the sanitiser: the settings header of a
    TFLM project (the model's name is its namespace) compiles with warnings as errors, and its label is the
    user's text, byte for byte. `not` is a C++ keyword (an alternative token), `int8_t` a type the header
    includes."""
    from tinyml_fw.generate import generate

    label = 'ü "q" \\ */ /* ??= \n $(id) `id`; %s'

    def rename(model, schema) -> None:
        graph = model.subgraphs[0]
        graph.tensors[graph.inputs[0]].name = b"in */ #error\n int x = 1; /*"

    model = tmp_path / f"{name}.tflite"
    model.write_bytes(_mutated(hello_world_model.read_bytes(), rename))
    project = generate(model, "nano33ble", tmp_path / "p", runtime="tflm", labels=[label], log=lambda _: None)
    header = tmp_path / "p" / "src" / "model" / f"{project.name}_model_settings.h"
    main = tmp_path / "main.cpp"
    main.write_text(f'#include "{header}"\n#include <cstdio>\n'
                    f"int main() {{ std::fputs({project.name}::kLabels[0], stdout); return 0; }}\n")
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-trigraphs", "-o", str(tmp_path / "m"),
                    str(main)], check=True)
    assert subprocess.run([str(tmp_path / "m")], capture_output=True, check=True).stdout == label.encode()
    assert project.name == f"m_{name}"


def test_every_cpp_keyword_and_taken_name_is_renamed():
    from tinyml_fw.cnames import c_identifier

    for word in ("and", "or", "xor", "not", "bitand", "compl", "using", "typename", "decltype", "noexcept",
                 "class", "int", "main", "std", "tflite", "size_t", "uint8_t"):
        assert c_identifier(word) == f"m_{word}", word
