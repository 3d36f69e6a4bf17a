"""The TFLM application: for every catalog board and recipe-like model, `generate` renders a project whose
platformio.ini PlatformIO itself parses, whose op resolver registers exactly the model's operators (N =
their count), and whose arena is the measured arena plus the stated margin.

The emulated board's TFLM projects need a TFLM tree: rendering uses a FAKE tree (the few files generate
looks at), labelled as such; building and validating against a real tree runs only when
TINYML_FW_TFLM_TREE points at one (tree made by create_tflm_tree.py; building TFLM takes minutes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyml_fw import boards, tflm
from tinyml_fw.arena import measured_arena, smallest_arena
from tinyml_fw.errors import BadInput
from tinyml_fw.generate import Project, generate
from tinyml_fw.platformio import ensure_core

QUIET = {"log": lambda _: None}
RECIPE_LIKE = ("mnist-mlp", "digits-mlp", "sine", "mnist-cnn")
TREE = os.environ.get("TINYML_FW_TFLM_TREE")


# ------------------------------------------------------------------------------------------------ models

@pytest.fixture(scope="module")
def models(tmp_path_factory, hello_world_model, micro_speech_model) -> dict[str, Path]:
    """The shared models and one int8 model per recipe architecture (random weights, random calibration:
    the same operators as the trained recipe, without the training time)."""
    import tinyml_fw
    from tinyml_fw import recipes
    from tinyml_fw.tf import tensorflow

    out = {"hello_world": hello_world_model, "micro_speech": micro_speech_model}
    tensorflow().keras.utils.set_random_seed(0)
    for name in RECIPE_LIKE:
        folder = tmp_path_factory.mktemp(name)
        q = tinyml_fw.quantize(recipes.get(name).build(1), None, folder, random=32, **QUIET)
        out[name] = Path(q.tflite_path)
    return out


def model_ops(path: Path) -> list[str]:
    """The builtin operators the model's operators use, read straight from the flatbuffer."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return sorted({names[codes[op.opcodeIndex]] for op in model.subgraphs[0].operators})


@pytest.fixture(scope="module")
def fake_tree(tmp_path_factory) -> Path:
    """A FAKE TFLM tree: only the files generate inspects (no TFLM code). Enough to render and parse the
    emulated board's TFLM project; it cannot build."""
    root = tmp_path_factory.mktemp("fake-tflm-tree")
    for rel in ("tensorflow/lite/micro/micro_interpreter.h", "third_party/flatbuffers/include/flatbuffers/base.h",
                "third_party/gemmlowp/fixedpoint/fixedpoint.h", "third_party/ruy/ruy/profiler/instrumentation.h",
                "tensorflow/lite/micro/cortex_m_generic/debug_log.cc", "tensorflow/lite/micro/kernels/add.cc"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("// fake\n")
    (root / "tensorflow/lite/micro/debug_log.h").write_text(
        "void DebugLog(const char* format, va_list args);\nint DebugVsnprintf(char*, size_t, const char*, va_list);\n")
    return root


# ------------------------------------------------------------------------------------------------ helpers

def pio_config(project: Path) -> dict:
    """`pio project config` with tinyml-fw's private core: PlatformIO's own parse, no network."""
    env = ensure_core()
    result = subprocess.run([sys.executable, "-m", "platformio", "project", "config", "-d", str(project),
                             "--json-output"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Installing" not in result.stdout + result.stderr  # parsing must not fetch anything
    return {section: dict(options) for section, options in json.loads(result.stdout)}


def known_options(config: dict) -> None:
    from platformio.project.options import ProjectOptions

    for section, options in config.items():
        scope = "platformio" if section == "platformio" else "env"
        unknown = [name for name in options if f"{scope}.{name}" not in ProjectOptions]
        assert not unknown, f"[{section}] has options PlatformIO does not know: {unknown}"


def settings(project: Path, name: str) -> dict[str, int]:
    text = (project / f"src/model/{name}_model_settings.h").read_text()
    return {k: int(v) for k, v in re.findall(r"constexpr (?:size_t|int) (k\w+) = (\d+);", text)}


def resolver_calls(project: Path, name: str) -> list[str]:
    return re.findall(r"resolver->(Add\w+)\(\)", (project / f"src/model/{name}_model.cpp").read_text())


def stated_margin(measured: int) -> int:
    """docs/tflm.md: a quarter of the measured arena, at least 1 KiB, in 16-byte steps."""
    return max(1024, (-(-measured // 4) + 15) // 16 * 16)


def check_tflm_project(project: Path, name: str, model: Path) -> None:
    expected = [tflm.OP_METHODS[op] for op in model_ops(model)]
    calls = resolver_calls(project, name)
    assert sorted(calls) == sorted(expected), "the op resolver must register exactly the model's operators"
    assert len(calls) == len(set(calls))  # each once
    s = settings(project, name)
    code = (project / f"src/model/{name}_model.cpp").read_text()
    assert f"tflite::MicroMutableOpResolver<{name}::kOpCount>" in code and s["kOpCount"] == len(expected)
    assert "!= kTfLiteOk" in code and code.count("!= kTfLiteOk") >= len(expected) + 1  # every Add…() checked
    measured = measured_arena(model)
    assert s["kArenaMeasured"] == measured
    assert s["kArenaMargin"] == stated_margin(measured)
    text = (project / f"src/model/{name}_model_settings.h").read_text()
    assert "constexpr size_t kTensorArenaSize = kArenaMeasured + kArenaMargin;" in text
    assert f"alignas(16) uint8_t g_arena[{name}::kTensorArenaSize];" in code
    manifest = json.loads((project / "tinyml-fw.json").read_text())
    assert manifest["runtime"] == "tflm" and manifest["arena_bytes"] == measured + stated_margin(measured)
    assert manifest["tflm"]["arena_measured"] == measured
    data = (project / f"src/model/{name}_model_data.cpp").read_text()
    assert f"alignas(16) const unsigned char {name}_model_data[{model.stat().st_size}]" in data
    for banned in ("ErrorReporter", "AllOpsResolver", "version.h"):
        assert banned not in code


# -------------------------------------------------------------------------------------------------- tests

def test_arena_is_the_smallest_working_arena_plus_the_margin(models, tmp_path):
    """The measured figure is what a fresh search finds (not only what the cache says)."""
    model = models["hello_world"]
    generate(model, "nano33ble", tmp_path / "p", **QUIET)
    s = settings(tmp_path / "p", "hello_world_int8")
    assert s["kArenaMeasured"] == smallest_arena(model)
    assert s["kArenaMargin"] == stated_margin(s["kArenaMeasured"])
    text = (tmp_path / "p/src/model/hello_world_int8_model_settings.h").read_text()
    assert "plus a margin of" in text and "a quarter of it, at least 1 KiB" in text


@pytest.mark.parametrize("board_id", boards.known())
def test_every_board_and_model_renders_a_project_pio_parses(board_id, models, fake_tree, tmp_path):
    board = boards.get(board_id)
    runtimes = ["aot", *(["tflm"] if "tflm" in board.runtimes else [])]
    for runtime in runtimes:
        parsed = None
        for model_name, model in models.items():
            out = tmp_path / f"{runtime}-{model_name}"
            tree = fake_tree if runtime == "tflm" and board.emulated else None
            try:
                project = generate(model, board_id, out, runtime=runtime, tflm_tree=tree, name=model_name, **QUIET)
            except BadInput as exc:
                assert "does not fit" in str(exc), str(exc)  # only a model too big for the board is refused
                assert board.ram_bytes <= 98304, str(exc)  # the small boards (AVR, real or in simavr)
                continue
            assert project.runtime == runtime
            if runtime == "tflm":
                check_tflm_project(out, project.name, model)
            ini = (out / "platformio.ini").read_text().split("\n", 1)[1]  # without the model's hash line
            if parsed is None:  # PlatformIO parses one project per board and runtime; the others are the same
                config = pio_config(out)
                known_options(config)
                env = config[f"env:{board_id}"]
                assert env["board"] == board_id
                if board.emulated:
                    assert env["platform"].startswith("symlink://") and (out / f"boards/{board_id}.json").is_file()
                else:
                    assert env["platform"] == board.platform.spec and env["framework"] == ["arduino"]
                    assert not (out / "boards").exists()  # would shadow the platform's own board manifest
                    assert env["monitor_speed"] == board.baud
                    if runtime == "tflm":
                        assert env["lib_deps"] == [board.tflm.lib_deps]
                        assert "-Wl,--wrap=DebugLog" in env["build_flags"]
                parsed = ini
            else:
                assert ini == parsed
        assert parsed is not None, f"no model could be generated for {board_id}/{runtime}"


def test_default_runtime_is_tflm_only_on_verified_real_boards(models, tmp_path):
    model = models["hello_world"]
    assert generate(model, "nano33ble", tmp_path / "a", **QUIET).runtime == "tflm"
    assert generate(model, "pico", tmp_path / "b", **QUIET).runtime == "aot"  # unverified library
    assert generate(model, "uno", tmp_path / "c", **QUIET).runtime == "aot"
    assert generate(model, "mps2-an386", tmp_path / "d", **QUIET).runtime == "aot"


def test_tflm_refusals_say_what_to_do(models, fake_tree, tmp_path):
    model = models["hello_world"]
    with pytest.raises(BadInput, match="--tflm-tree DIR.*or use --runtime aot"):
        generate(model, "mps2-an386", tmp_path / "a", runtime="tflm", **QUIET)
    with pytest.raises(BadInput, match="not 'tflm'.*AOT only"):
        generate(model, "uno", tmp_path / "b", runtime="tflm", **QUIET)
    with pytest.raises(BadInput, match="emulated Cortex-M boards; nano33ble gets TFLM from its PlatformIO library"):
        generate(model, "nano33ble", tmp_path / "c", tflm_tree=fake_tree, **QUIET)
    with pytest.raises(BadInput, match="not a TFLM tree"):
        generate(model, "mps2-an386", tmp_path / "d", tflm_tree=tmp_path, **QUIET)
    assert not any((tmp_path / x).exists() for x in "abcd")


def test_unknown_operator_is_refused_with_its_layer(hello_world_model):
    from dataclasses import replace

    from tinyml_fw.modelspec import read_model

    spec = read_model(hello_world_model)
    custom = replace(spec, ops=(replace(spec.ops[0], op="CUSTOM"), *spec.ops[1:]))
    with pytest.raises(BadInput, match=r"cannot register layer 0 \(CUSTOM.*--runtime aot"):
        tflm.resolver_ops(custom)


def test_labels_come_from_the_data_file(models, tmp_path):
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros((2, 28, 28), np.float32), labels=np.array([f"digit {i}" for i in range(10)]))
    generate(models["mnist-mlp"], "nano33ble", tmp_path / "p", data=data, name="m", **QUIET)
    text = (tmp_path / "p/src/model/m_model_settings.h").read_text()
    assert 'constexpr int kLabelCount = 10;' in text and '"digit 9",' in text


def test_arduino_projects_leave_the_bare_metal_main_out(models, tmp_path):
    generate(models["hello_world"], "esp32dev", tmp_path / "p", **QUIET)
    files = json.loads((tmp_path / "p/tinyml-fw.json").read_text())["files"]
    assert "src/tfw/board/arduino/tfw_main_arduino.cpp" in files and "src/tfw/app/tfw_device.c" in files
    assert "src/tfw/app/tfw_app.c" not in files and not any("kernels" in f for f in files)
    log = (tmp_path / "p/src/model/tfw_tflm_log.cpp").read_text()
    assert 'extern "C" void __wrap_DebugLog(const char *text)' in log
    code = (tmp_path / "p/src/model/hello_world_int8_model.cpp").read_text()
    assert "tflite::InitializeTarget();\n  tfw_board_init();" in code  # Serial back to the link's speed


def test_regenerating_with_another_runtime_removes_the_old_files(models, tmp_path):
    out = tmp_path / "p"
    generate(models["hello_world"], "nano33ble", out, runtime="aot", **QUIET)
    generate(models["hello_world"], "nano33ble", out, runtime="tflm", force=True, **QUIET)
    assert not (out / "src/tfw/kernels").exists() and not (out / "src/model/hello_world_int8_model.c").exists()
    assert Project.load(out).runtime == "tflm"


# ------------------------------------------------------------------------ against a real TFLM tree (opt-in)

needs_tree = pytest.mark.skipif(not TREE, reason="needs a TFLM tree made by create_tflm_tree.py: set "
                                "TINYML_FW_TFLM_TREE=/path/to/tree (building TFLM takes minutes; docs/tflm.md)")


@needs_tree
@pytest.mark.slow
def test_tflm_on_the_emulated_m4_is_bit_exact_with_the_interpreter(models, tmp_path):
    from tinyml_fw.build import build
    from tinyml_fw.validate import validate

    out = tmp_path / "p"
    generate(models["mnist-cnn"], "mps2-an386", out, tflm_tree=TREE, name="cnn", **QUIET)
    firmware = build(out, **QUIET)
    assert firmware.flash_bytes > 0
    report = validate(out, random=20, **QUIET)
    assert report.runtime == "tflm" and report.vectors == 20 and report.bit_exact == 20, report
    # INFO reports TFLM's arena_used_bytes(), which fits in the planned arena.
    s = settings(out, "cnn")
    assert 0 < report.arena_bytes <= s["kArenaMeasured"] + s["kArenaMargin"]


def test_cli_generate_with_a_tree_and_analyze_both_runtimes(run_cli, tmp_path, fake_tree, hello_world_model):
    result = run_cli("generate", str(hello_world_model), "--board", "mps2-an386", "--tflm-tree", str(fake_tree),
                     "--out", "p")
    assert result.returncode == 0, result.stderr
    assert Project.load(tmp_path / "p").runtime == "tflm"  # a tree means TFLM
    result = run_cli("analyze", str(hello_world_model), "--board", "nano33ble")
    assert result.returncode == 0, result.stderr
    assert "On nano33ble: flash" in result.stdout and "TFLM on nano33ble: flash" in result.stdout
    assert "Default runtime on nano33ble: tflm" in result.stdout
    result = run_cli("analyze", str(hello_world_model), "--board", "uno", "--no-arena")
    assert "TFLM: uno has no TFLM runtime" in result.stdout and "AOT only" in result.stdout


def test_a_tree_becomes_a_library_with_consistent_defines(fake_tree, tmp_path, hello_world_model):
    from tinyml_fw import tflm_tree

    tree = tflm_tree.load(fake_tree)
    assert tree.defines == ("TF_LITE_STATIC_MEMORY",) and not tree.cmsis_nn
    assert tree.replaced == ("tensorflow/lite/micro/cortex_m_generic/debug_log.cc",)
    assert tree.src_filter == ("+<tensorflow/>", "-<tensorflow/lite/micro/cortex_m_generic/debug_log.cc>")
    assert tree.debug_log == "va_list" and tree.debug_vsnprintf
    generate(hello_world_model, "mps2-an386", tmp_path / "p", tflm_tree=fake_tree, **QUIET)
    config = pio_config(tmp_path / "p")
    env = config["env:mps2-an386"]
    assert "-DTF_LITE_STATIC_MEMORY" in env["build_flags"]  # reaches the library and the application alike
    assert env["lib_deps"] == ["tflm"] and env["lib_ldf_mode"] == "off"
    library = json.loads((Path(env["lib_extra_dirs"][0]) / "tflm/library.json").read_text())
    assert library["build"]["srcDir"] == str(fake_tree.resolve()) and library["build"]["libArchive"] is False
    log = (tmp_path / "p/src/model/tfw_tflm_log.cpp").read_text()
    assert 'extern "C" void DebugLog(const char *format, va_list args)' in log and "DebugVsnprintf" in log
    assert (tmp_path / "p/src/model/tfw_tflm_time.cpp").is_file()
