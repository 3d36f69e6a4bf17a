"""End-to-end checks of the PlatformIO platform, the board support and QEMU.

Real tools, no mocks: a minimal PlatformIO project is generated in a temporary
folder, built offline with a fresh private PlatformIO core, and run on QEMU's
mps2-an386; the firmware talks over the emulated UART through pyserial.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from anywhere, with or without an installed package
    sys.path.insert(0, str(REPO))

import serial  # noqa: E402  (pyserial)

from tinyml_fw import platformio as pio  # noqa: E402
from tinyml_fw.emulator import EmulatorError, Qemu, ticks_to_instructions  # noqa: E402

BOARD_ID = "mps2-an386"
BOARD_JSON = REPO / "boards" / f"{BOARD_ID}.json"
FIRMWARE_BOARD = REPO / "firmware" / "board"

SHORT_LOOP = 200_000  # iterations of a 2-instruction loop (subs + bne)
LONG_LOOP = 12_000_000  # long enough for SysTick (2^24 ticks) to wrap

MAIN_C = r"""
#include <stdint.h>

#include "tfw_board.h"

#define SHORT_LOOP %(short)du
#define LONG_LOOP %(long)du

uint32_t cxx_value(void); /* cxx_part.cpp: set by a static constructor */

static volatile uint32_t data_word = 0x12345678u; /* .data, copied at reset */
static volatile float fp_a = 1.5f, fp_b = 2.25f;   /* FPU enabled by startup */

static void put_str(const char *s) {
  while (*s) {
    tfw_board_putc((uint8_t)*s++);
  }
}

static void put_u64(uint64_t value) {
  char buf[21];
  int i = 20;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + (int)(value %% 10u));
    value /= 10u;
  } while (value != 0u);
  put_str(&buf[i]);
}

static void put_kv(const char *key, uint64_t value) {
  put_str(key);
  put_str("=");
  put_u64(value);
  put_str("\n");
}

/* Exactly 2 instructions per iteration. */
static void __attribute__((noinline)) spin(uint32_t n) {
  __asm volatile("1:\n\tsubs %%0, %%0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

int main(void) {
  tfw_board_init();
  put_str("hello\n");

  uint64_t t0 = tfw_board_ticks();
  spin(SHORT_LOOP);
  uint64_t t1 = tfw_board_ticks();
  spin(LONG_LOOP);
  uint64_t t2 = tfw_board_ticks();

  put_kv("short_ticks", t1 - t0);
  put_kv("long_ticks", t2 - t1);
  put_kv("data_ok", data_word == 0x12345678u);
  put_kv("cxx", cxx_value());
  put_kv("fp", (uint64_t)(fp_a * fp_b * 100.0f));
  put_str("ready\n");

  for (;;) { /* echo: answer each received byte */
    int c = tfw_board_getc();
    if (c >= 0) {
      put_kv("rx", (uint64_t)c);
    }
  }
}
""" % {"short": SHORT_LOOP, "long": LONG_LOOP}

CXX_PART = r"""
#include <stdint.h>

namespace {
volatile uint32_t seed = 41u;

struct Answer {
  uint32_t value;
  Answer() : value(seed + 1u) {}  // dynamic initialisation: needs __libc_init_array
  virtual ~Answer() {}
};

Answer answer;
}  // namespace

extern "C" uint32_t cxx_value(void) { return answer.value; }
"""


def board_manifest() -> dict:
    return json.loads(BOARD_JSON.read_text(encoding="utf-8"))


def make_project(root: Path) -> Path:
    """A minimal PlatformIO project for the board, as the tinyml-fw generator makes one."""
    board = board_manifest()
    tinyml = board["tinyml"]
    (root / "boards").mkdir(parents=True)
    shutil.copy(BOARD_JSON, root / "boards" / BOARD_JSON.name)
    src = root / "src"
    board_src = src / "board"
    board_src.mkdir(parents=True)
    shutil.copy(FIRMWARE_BOARD / "tfw_board.h", board_src / "tfw_board.h")
    for folder in tinyml["firmware_boards"]:
        shutil.copytree(FIRMWARE_BOARD / folder, board_src / folder)
    (src / "main.c").write_text(MAIN_C, encoding="utf-8")
    (src / "cxx_part.cpp").write_text(CXX_PART, encoding="utf-8")
    defines = "\n".join("    -D%s=%s" % (k, v) for k, v in sorted(tinyml["defines"].items()))
    (root / "platformio.ini").write_text(
        "[platformio]\n"
        "boards_dir = boards\n"
        "default_envs = %(board)s\n"
        "\n"
        "[env:%(board)s]\n"
        "platform = %(platform)s\n"
        "board = %(board)s\n"
        "test_framework = custom\n"
        "build_flags =\n"
        "    -Wall -Wextra -Werror\n"
        "    -Isrc/board\n"
        "%(defines)s\n" % {"board": BOARD_ID, "platform": pio.platform_uri(), "defines": defines},
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    """A fresh private core; proxies on a closed loopback port keep any stray request local."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYML_FW_HOME", str(tmp_path_factory.mktemp("tinyml-fw-home")))
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            mp.setenv(name, "http://127.0.0.1:9")
        mp.delenv("NO_PROXY", raising=False)
        mp.delenv("no_proxy", raising=False)
        yield


@pytest.fixture(scope="module")
def built(tmp_path_factory, offline_env):
    project = make_project(tmp_path_factory.mktemp("project") / "app")
    started = time.monotonic()
    result = pio.run_pio(project, timeout=180)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    # ~1-2 s offline; a request to the registry stalls ~60 s before it fails.
    assert elapsed < 30, "pio run took %.1f s" % elapsed
    build_dir = project / ".pio" / "build" / BOARD_ID
    return {"project": project, "build_dir": build_dir, "result": result, "seconds": elapsed}


def run_firmware(elf: Path) -> dict:
    board = board_manifest()
    emu = board["tinyml"]["emulator"]
    values: dict = {}
    with Qemu(elf, emu["machine"], emu["icount_shift"]) as q:
        with serial.serial_for_url(q.url, timeout=10) as port:
            first = port.readline().decode("ascii", "replace").strip()
            values["first_line"] = first
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = port.readline().decode("ascii", "replace").strip()
                if line == "ready":
                    break
                match = re.fullmatch(r"(\w+)=(\d+)", line)
                if match:
                    values[match.group(1)] = int(match.group(2))
            else:
                pytest.fail("firmware did not finish: %r (qemu stderr: %s)" % (values, q.stderr_text()))
            port.write(b"Z")
            values["echo"] = port.readline().decode("ascii", "replace").strip()
    return values


# ------------------------------------------------------------------------ core


def test_core_dir_is_private(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYML_FW_HOME", str(tmp_path / "home"))
    assert pio.core_dir() == (tmp_path / "home" / "platformio").resolve()
    monkeypatch.delenv("TINYML_FW_HOME")
    assert pio.core_dir() == Path.home().resolve() / ".cache" / "tinyml-fw" / "platformio"
    assert pio.core_dir() != Path.home() / ".platformio"


def test_ensure_core_is_idempotent(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYML_FW_HOME", str(tmp_path))
    env1 = pio.ensure_core()
    pkg = pio.core_dir() / "packages" / "tool-scons"
    files = {p.name: p.read_bytes() for p in pkg.iterdir()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in pkg.iterdir()}
    env2 = pio.ensure_core()
    assert env1 == env2
    assert {p.name: p.read_bytes() for p in pkg.iterdir()} == files
    assert {p.name: p.stat().st_mtime_ns for p in pkg.iterdir()} == mtimes
    assert set(files) == {"package.json", "scons.py", ".piopm"}
    meta = json.loads(files[".piopm"])
    assert meta["spec"]["owner"] == "platformio"
    assert meta["name"] == "tool-scons" and meta["version"] == "4.41101.0"
    assert env1["PLATFORMIO_CORE_DIR"] == str(pio.core_dir())
    assert env1["PLATFORMIO_DISABLE_UPGRADE_CHECK"] == "true"
    assert env1["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] == "No"


def test_platform_uri_points_at_local_platform():
    uri = pio.platform_uri()
    assert uri.startswith("symlink://")
    path = Path(uri[len("symlink://"):])
    assert path.is_absolute()
    assert (path / "platform.json").is_file()
    assert (path / "builder" / "main.py").is_file()
    manifest = json.loads((path / "platform.json").read_text())
    assert not manifest.get("packages")


# ----------------------------------------------------------------------- build


def test_build_outputs(built):
    build_dir = built["build_dir"]
    elf = build_dir / "firmware.elf"
    assert elf.is_file()
    assert elf.read_bytes()[:4] == b"\x7fELF"
    assert (build_dir / "firmware.bin").stat().st_size > 0
    out = built["result"].stdout
    assert re.search(r"^\s*text\s+data\s+bss", out, re.M), out
    script = (build_dir / f"{BOARD_ID}.ld").read_text()
    assert "ORIGIN = 0x00000000, LENGTH = 4194304" in script
    assert "ORIGIN = 0x20000000, LENGTH = 4194304" in script


def test_rebuild_in_another_folder_gives_same_binary(built, tmp_path):
    other = make_project(tmp_path / "elsewhere" / "copy")
    result = pio.run_pio(other, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    name = "firmware.bin"
    assert (other / ".pio" / "build" / BOARD_ID / name).read_bytes() == (built["build_dir"] / name).read_bytes()


# ------------------------------------------------------------------------- run


def test_firmware_runs_and_timing_is_deterministic(built):
    elf = built["build_dir"] / "firmware.elf"
    first = run_firmware(elf)
    second = run_firmware(elf)

    assert first["first_line"] == "hello"
    assert first["data_ok"] == 1
    assert first["cxx"] == 42
    assert first["fp"] == 337
    assert first["echo"] == "rx=%d" % ord("Z")

    # -icount makes the tick counts repeatable run to run.
    assert first["short_ticks"] == second["short_ticks"]
    assert first["long_ticks"] == second["long_ticks"]

    board = board_manifest()
    f_cpu = int(board["build"]["f_cpu"].rstrip("L"))
    shift = board["tinyml"]["emulator"]["icount_shift"]
    for key, iterations in (("short_ticks", SHORT_LOOP), ("long_ticks", LONG_LOOP)):
        expected = 2 * iterations  # subs + bne
        measured = ticks_to_instructions(first[key], f_cpu, shift)
        # Only the few instructions around the loop (tfw_board_ticks, call) come on top.
        assert expected <= measured <= expected * 1.001 + 64, (key, measured, expected)
    assert first["long_ticks"] > 2**24  # crossed at least one SysTick wrap


def test_ticks_to_instructions():
    assert ticks_to_instructions(1, 25_000_000, 0) == pytest.approx(40.0)
    assert ticks_to_instructions(4, 25_000_000, 5) == pytest.approx(5.0)
    assert ticks_to_instructions(0, 25_000_000, 5) == 0.0


# -------------------------------------------------------------------- emulator


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_emulator_stopped_after_context(built):
    elf = built["build_dir"] / "firmware.elf"
    with Qemu(elf, "mps2-an386", 5) as q:
        pid = q.pid
        assert q.running and not _gone(pid)
        assert q.url == "socket://127.0.0.1:%d" % q.port
    assert not q.running
    assert _gone(pid)


class _Boom(Exception):
    pass


def test_emulator_stopped_when_body_raises(built):
    elf = built["build_dir"] / "firmware.elf"
    pid = None
    with pytest.raises(_Boom):
        with Qemu(elf, "mps2-an386", 5) as q:
            pid = q.pid
            with serial.serial_for_url(q.url, timeout=10) as port:
                assert port.readline().strip() == b"hello"
                raise _Boom()
    assert pid is not None and _gone(pid)


def test_emulator_error_on_early_exit(built):
    elf = built["build_dir"] / "firmware.elf"
    with pytest.raises(EmulatorError, match="unsupported machine"):
        Qemu(elf, "no-such-machine", 5).start()


def test_emulator_error_when_qemu_missing(built):
    elf = built["build_dir"] / "firmware.elf"
    with pytest.raises(EmulatorError, match="not found"):
        Qemu(elf, "mps2-an386", 5, qemu_binary="qemu-system-no-such-arch").start()
