# SCons build script of the tinyml-avr PlatformIO platform.
#
# AVR8 firmware with the avr-gcc found on PATH (Debian's gcc-avr + avr-libc + binutils-avr). The board
# manifest gives:
#
#   build.mcu                 -mmcu (e.g. "atmega328p")
#   build.f_cpu               the clock, as F_CPU
#   upload.maximum_size       flash available to the program (PlatformIO's size check)
#   upload.maximum_ram_size   SRAM
#
# The C runtime start-up and the linker script are avr-libc's (chosen by -mmcu). `framework = arduino`
# adds the Arduino core (builder/frameworks/arduino.py). Every build.* value can be overridden from
# platformio.ini (board_build.*). Outputs: $BUILD_DIR/firmware.elf, firmware.hex and firmware.map.

import os
import sys

from SCons.Script import (  # pylint: disable=import-error
    COMMAND_LINE_TARGETS,
    AlwaysBuild,
    Builder,
    Default,
    DefaultEnvironment,
)

env = DefaultEnvironment()
board = env.BoardConfig()


def _fail(message):
    sys.stderr.write("Error: tinyml-avr: %s\n" % message)
    env.Exit(1)


env.Replace(
    AR="avr-gcc-ar",
    AS="avr-as",
    CC="avr-gcc",
    CXX="avr-g++",
    LINK="avr-g++",
    OBJCOPY="avr-objcopy",
    RANLIB="avr-gcc-ranlib",
    SIZETOOL="avr-size",
    ARFLAGS=["rc"],
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)

if not env.WhereIs("$CC"):
    _fail("avr-gcc was not found on PATH; install the AVR toolchain "
          "(Debian: apt-get install gcc-avr avr-libc binutils-avr)")

mcu = board.get("build.mcu", "")
if not mcu:
    _fail("board '%s' has no build.mcu" % board.id)

project_dir = env.subst("$PROJECT_DIR")
rel_build_dir = os.path.relpath(env.subst("$BUILD_DIR"), project_dir)

env.Append(
    ASFLAGS=["-mmcu=%s" % mcu, "-x", "assembler-with-cpp"],
    CCFLAGS=[
        "-mmcu=%s" % mcu,
        "-Os",  # default; an -O in build_flags comes later and wins
        "-ffunction-sections",
        "-fdata-sections",
        "-fno-common",
    ],
    CFLAGS=["-std=gnu11"],
    CXXFLAGS=[
        "-std=gnu++11",
        "-fno-exceptions",
        "-fno-rtti",
        "-fno-threadsafe-statics",
        "-fpermissive",
    ],
    CPPDEFINES=[
        ("F_CPU", "$BOARD_F_CPU"),
        "TINYML_AVR",
    ],
    LINKFLAGS=[
        "-mmcu=%s" % mcu,
        "-Os",
        "-Wl,--gc-sections",
        "-Wl,-Map=%s" % os.path.join(rel_build_dir, env.subst("${PROGNAME}.map")),
    ],
    LIBS=["m"],
)

if "nobuild" in COMMAND_LINE_TARGETS:
    target_elf = os.path.join("$BUILD_DIR", "${PROGNAME}.elf")
    target_hex = os.path.join("$BUILD_DIR", "${PROGNAME}.hex")
else:
    env.Append(
        BUILDERS=dict(
            ElfToHex=Builder(
                action=env.VerboseAction(
                    "$OBJCOPY -O ihex -R .eeprom $SOURCES $TARGET", "Building $TARGET"
                ),
                suffix=".hex",
            )
        )
    )
    target_elf = env.BuildProgram()
    target_hex = env.ElfToHex(os.path.join("$BUILD_DIR", "${PROGNAME}"), target_elf)

AlwaysBuild(env.Alias("nobuild", target_hex))
target_buildprog = env.Alias("buildprog", target_hex, target_hex)

target_memsize = env.AddPlatformTarget(
    "memsize",
    target_elf,
    env.VerboseAction("$SIZEPRINTCMD", "Size of ${SOURCE.file} (bytes):"),
    "Program Size",
    "Print text/data/bss of the firmware",
)
env.Depends(target_memsize, [target_hex, env.Alias("checkprogsize")])

Default([target_buildprog, target_memsize])
