# `framework = arduino` for the tinyml-avr platform: the real Arduino AVR core from Debian's
# arduino-core-avr, compiled from /usr/share/arduino/hardware/arduino/avr (or board_build.arduino_dir).
#
#   build.core      the core's folder under cores/ (default "arduino")
#   build.variant   the pin map under variants/ ("standard" for the Uno, "mega" for the Mega 2560)
#   build.board     ARDUINO_<board> define (e.g. "AVR_UNO")
#
# avr-gcc's float.h has no DECIMAL_DIG, which the core's WString.cpp uses: it is defined from gcc's own
# __DECIMAL_DIG__.

import os
import sys

from SCons.Script import DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()
board = env.BoardConfig()

ARDUINO_VERSION = "10807"  # Debian's arduino-core-avr 1.8.7, as the Arduino IDE would define it

root = board.get("build.arduino_dir", "/usr/share/arduino/hardware/arduino/avr")
core_dir = os.path.join(root, "cores", board.get("build.core", "arduino"))
variant_dir = os.path.join(root, "variants", board.get("build.variant", "standard"))
for folder in (core_dir, variant_dir):
    if not os.path.isdir(folder):
        sys.stderr.write("Error: tinyml-avr: the Arduino AVR core is not installed (%s is missing); "
                         "Debian: apt-get install arduino-core-avr\n" % folder)
        env.Exit(1)

env.Append(
    CPPDEFINES=[
        ("ARDUINO", ARDUINO_VERSION),
        "ARDUINO_%s" % board.get("build.board", "AVR_UNO"),
        "ARDUINO_ARCH_AVR",
        ("DECIMAL_DIG", "__DECIMAL_DIG__"),
    ],
    CPPPATH=[core_dir, variant_dir],
)

# An archive, as the Arduino IDE links it: only the objects the program needs are taken (the Mega's
# Serial1..3 and Tone's timer interrupt would otherwise come along, with their buffers and vectors).
env.Prepend(LIBS=[env.BuildLibrary(os.path.join("$BUILD_DIR", "FrameworkArduino"), core_dir)])
