"""The board catalog (boards/*.json): the course's boards with the facts of ../shared/reference/real-boards.md,
the schema's checks, and the runtime each board gets by default."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinyml_fw import boards
from tinyml_fw.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
REAL = {"nano33ble", "esp32dev", "nucleo_f401re", "pico", "uno", "megaatmega2560"}


def ids(*pairs: str) -> set[tuple[int, int]]:
    return {(int(v, 16), int(p, 16)) for v, p in (pair.split(":") for pair in pairs)}


def test_catalog_has_the_course_boards_and_the_emulated_one():
    catalog = {b.id: b for b in boards.catalog()}
    assert REAL | {"mps2-an386"} <= set(catalog)
    assert all(catalog[b].emulated is False for b in REAL) and catalog["mps2-an386"].emulated


@pytest.mark.parametrize("board_id, platform, version", [
    ("nano33ble", "nordicnrf52", "10.11.0"), ("esp32dev", "espressif32", "6.13.0"),
    ("nucleo_f401re", "ststm32", "19.6.0"), ("pico", "raspberrypi", "1.19.0"),
    ("uno", "atmelavr", "5.2.0"), ("megaatmega2560", "atmelavr", "5.2.0"),
])
def test_real_boards_pin_their_platform(board_id, platform, version):
    board = boards.get(board_id)
    assert board.platform.spec == f"{platform}@{version}" and board.framework == "arduino"


def test_nano33ble_platform_is_past_the_boot_crash():
    """nordicnrf52 9.6.0–10.2.x built the mbed core with GCC 8: the board crashed at boot (fixed in 10.3.0)."""
    platform = boards.get("nano33ble").platform
    version = tuple(int(x) for x in platform.version.split("."))
    assert platform.minimum_version == "10.3.0" and version >= (10, 3, 0)


def test_usb_ids_include_the_arduino_boards_txt_extras():
    assert set(boards.get("nano33ble").hwids) == ids("2341:005A", "2341:805A", "2341:015A", "2341:025A")
    assert set(boards.get("uno").hwids) == ids("2341:0043", "2341:0001", "2341:0243", "2A03:0043", "2341:006A")
    assert set(boards.get("megaatmega2560").hwids) == ids("2341:0042", "2341:0010", "2A03:0010", "2A03:0042",
                                                          "2341:0210", "2341:0242")
    assert set(boards.get("pico").hwids) == ids("2E8A:00C0")
    assert set(boards.get("nucleo_f401re").hwids) == ids("0483:374B")
    esp = boards.get("esp32dev")
    assert ids("10C4:EA60", "1A86:7523", "1A86:55D4") <= set(esp.hwids) and esp.generic_hwids
    assert set(boards.get("nano33ble").bootloader_hwids) == ids("2341:005A")


@pytest.mark.parametrize("board_id", sorted(REAL))
def test_hwids_are_the_union_of_the_sources_listed(board_id):
    data = json.loads((ROOT / "boards" / f"{board_id}.json").read_text())
    listed = {i for key, values in data["tinyml"]["usb_ids"].items() if isinstance(values, list)
              and key not in ("bootsel_unverified", "bootloader") for i in values}
    assert set(boards.get(board_id).hwids) == ids(*listed)


def test_serial_and_reset_behaviour():
    assert boards.get("uno").serial.reset_on_open and boards.get("uno").serial.boot_delay_s > 0
    assert boards.get("esp32dev").serial.reset_on_open
    assert (boards.get("esp32dev").serial.monitor_rts, boards.get("esp32dev").serial.monitor_dtr) == (0, 0)
    nano = boards.get("nano33ble").serial
    assert nano.reenumerates_after_upload and nano.touch_1200bps and not nano.reset_on_open
    assert all(boards.get(b).baud == 115200 for b in REAL)


def test_tflm_libraries_and_default_runtimes():
    nano, esp = boards.get("nano33ble"), boards.get("esp32dev")
    assert nano.tflm.status == "verified" and nano.tflm.commit == "7948b85e020470a30a83bf00e10fc43b486bfcba"
    assert nano.tflm.lib_deps.endswith("#" + nano.tflm.commit)  # a Git URL pinned to the commit
    assert esp.tflm.status == "verified" and esp.tflm.lib_deps == "spaziochirale/Chirale_TensorFLowLite@2.0.0"
    assert boards.get("nucleo_f401re").tflm.status == boards.get("pico").tflm.status == "unverified"
    for avr in ("uno", "megaatmega2560"):
        board = boards.get(avr)
        assert board.tflm.status == "none" and board.runtimes == ("aot",) and "AOT only" in board.tflm.note
        assert board.rodata_in_ram
    defaults = {b.id: b.default_runtime for b in boards.catalog() if b.id in REAL | {"mps2-an386"}}
    assert defaults == {"nano33ble": "tflm", "esp32dev": "tflm", "nucleo_f401re": "aot", "pico": "aot",
                        "uno": "aot", "megaatmega2560": "aot", "mps2-an386": "aot"}
    assert boards.get("mps2-an386").tflm.source == "tree"


@contextlib.contextmanager
def user_board(name: str, data: dict) -> Iterator[None]:
    """boards/<name>.json in the user's tinyml-fw home while the block runs."""
    folder = Path(os.environ["TINYML_FW_HOME"]) / "boards"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    try:
        yield
    finally:
        path.unlink()


def assert_invalid(name: str, data: dict, message: str) -> None:
    with user_board(name, data), pytest.raises(BadInput, match=f"{name}.json is invalid.*{message}"):
        boards.get(name)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tinyml"]["tflm"].update(status="maybe"), "tflm status 'maybe'"),
    (lambda d: d["tinyml"].update(runtimes=["aot", "tflm", "onnx"]), "runtimes"),
    (lambda d: d["tinyml"]["platformio"].update(version="^10.3"), "exact x.y.z pin"),
    (lambda d: d["tinyml"]["platformio"].update(version="10.2.0"), "older than the minimum 10.3.0"),
    (lambda d: d["tinyml"].update(emulator={"kind": "qemu", "machine": "x"}), "either emulated"),
    (lambda d: d.update(hwids=[["2341", "805A"]]), "hwids entry"),
    (lambda d: d["tinyml"].update(runtimes=["aot"]), "runtime 'tflm' is not listed"),
])
def test_board_files_are_checked(change, message):
    data = json.loads((ROOT / "boards/nano33ble.json").read_text())
    change(data)
    assert_invalid("broken-board", data, message)


def test_board_files_of_the_first_schema_still_load():
    """A user board written before the catalog grew (no tflm, platformio or usb sections) is an AOT board."""
    data = json.loads((ROOT / "boards/mps2-an386.json").read_text())
    data["tinyml"].pop("tflm", None)
    data["tinyml"]["runtimes"] = ["aot"]
    with user_board("old-m4", data):
        board = boards.get("old-m4")
    assert board.runtimes == ("aot",) and board.default_runtime == "aot" and board.tflm.status == "none"
    assert board.emulated and board.hwids == () and board.tick_hz == board.f_cpu


@pytest.mark.parametrize("board_id, mcu, real", [("uno-sim", "atmega328p", "uno"),
                                                 ("mega-sim", "atmega2560", "megaatmega2560")])
def test_emulated_avr_boards_are_data(board_id, mcu, real):
    """The simavr boards: the local tinyml-avr platform with the Arduino framework, the real board's memory,
    ticks in clock cycles (Timer1, firmware/board/avr), no instruction count (simavr is not QEMU -icount)."""
    board, twin = boards.get(board_id), boards.get(real)
    assert board.emulated and board.emulator.kind == "simavr" and board.emulator.machine == mcu
    assert board.emulator.cycle_accurate and not boards.get("mps2-an386").emulator.cycle_accurate
    assert (board.local_platform, board.framework, board.platform) == ("tinyml-avr", "arduino", None)
    assert (board.flash_bytes, board.ram_bytes, board.f_cpu) == (twin.flash_bytes, twin.ram_bytes, twin.f_cpu)
    assert board.tick_hz == board.f_cpu and board.instructions(1000) is None
    assert board.rodata_in_ram and board.firmware_boards == ("arduino", "avr") and board.runtimes == ("aot",)
    # The real board runs the same device code: exact cycles from Timer1 there too, the same fit figures.
    assert twin.firmware_boards == board.firmware_boards and twin.tick_hz == twin.f_cpu
    assert (twin.runtime_flash, twin.runtime_ram) == (board.runtime_flash, board.runtime_ram)
    assert (ROOT / "platforms" / board.local_platform / "platform.json").is_file()


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tinyml"]["emulator"].update(kind="renode"), "emulator kind 'renode'"),
    (lambda d: d.update(platforms=["atmelavr"]), "local platform"),
])
def test_emulated_board_files_are_checked(change, message):
    data = json.loads((ROOT / "boards/uno-sim.json").read_text())
    change(data)
    assert_invalid("broken-avr", data, message)
