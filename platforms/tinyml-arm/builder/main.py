# SCons build script of the tinyml-arm PlatformIO platform.
#
# Bare-metal Cortex-M firmware with the arm-none-eabi GCC found on PATH
# (Debian's gcc-arm-none-eabi + libnewlib-arm-none-eabi): C and C++,
# newlib-nano, no start files (the project brings its own startup code), and a
# linker script generated from the board manifest:
#
#   build.cpu                 -mcpu (e.g. "cortex-m4")
#   build.fpu                 -mfpu (e.g. "fpv4-sp-d16"); absent or "" = no FPU
#   build.float_abi           "hard" (default with an FPU), "softfp" or "soft"
#   build.flash_origin        code memory origin (string "0x..." or integer)
#   build.ram_origin          data memory origin
#   build.stack_size          main stack size in bytes (top of RAM)
#   build.toolchain_prefix    default "arm-none-eabi-"
#   build.ldscript            optional: use this script instead of generating one
#   upload.maximum_size       code memory size in bytes
#   upload.maximum_ram_size   data memory size in bytes
#
# Every build.* value can be overridden from platformio.ini (board_build.*).
# Outputs: $BUILD_DIR/firmware.elf, firmware.bin, firmware.map and the
# generated <board>.ld.

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
    sys.stderr.write("Error: tinyml-arm: %s\n" % message)
    env.Exit(1)


def _board_int(path, default=None):
    value = board.get(path, default)
    if value is None or value == "":
        _fail("board '%s' has no '%s' (%s)" % (board.id, path, board.manifest_path))
    try:
        return value if isinstance(value, int) else int(str(value).strip(), 0)
    except ValueError:
        _fail("board option '%s' = %r is not an integer" % (path, value))
    return None  # not reached


# --------------------------------------------------------------------- toolchain

prefix = board.get("build.toolchain_prefix", "arm-none-eabi-")

env.Replace(
    AR=prefix + "gcc-ar",
    AS=prefix + "as",
    CC=prefix + "gcc",
    CXX=prefix + "g++",
    LINK=prefix + "g++",
    GDB=prefix + "gdb",
    OBJCOPY=prefix + "objcopy",
    RANLIB=prefix + "gcc-ranlib",
    SIZETOOL=prefix + "size",
    ARFLAGS=["rc"],
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)

if not env.WhereIs("$CC"):
    _fail(
        "%sgcc was not found on PATH; install an Arm bare-metal toolchain "
        "(Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
        "libstdc++-arm-none-eabi-newlib)" % prefix
    )

# ----------------------------------------------------------------------- flags

cpu = board.get("build.cpu", "")
if not cpu:
    _fail("board '%s' has no build.cpu" % board.id)
fpu = board.get("build.fpu", "") or ""
float_abi = board.get("build.float_abi", "hard" if fpu else "soft")

machine_flags = ["-mcpu=%s" % cpu, "-mthumb"]
if fpu and float_abi != "soft":
    machine_flags += ["-mfpu=%s" % fpu, "-mfloat-abi=%s" % float_abi]
else:
    machine_flags += ["-mfloat-abi=soft"]

project_dir = env.subst("$PROJECT_DIR")
build_dir = env.subst("$BUILD_DIR")
# SCons runs every command through `sh -c` and only wraps an argument holding a space in plain double quotes:
# a project folder with a quote, `$`, a backtick or `;` in its name would break the command or run part of
# it. So no path of the project is ever put on a command line: paths are relative to the project folder
# (the commands' working directory) and the one flag that needs the absolute folder sits in a response file.
rel_build_dir = os.path.relpath(build_dir, project_dir)


def _response_file(name, flags):
    """Writes `flags` into BUILD_DIR/name for GCC's @file, every ASCII punctuation and space escaped."""
    def quote(flag):
        return "".join("\\" + c if ord(c) < 128 and not (c.isalnum() or c in "_-./=") else c for c in flag)

    text = "\n".join(quote(flag) for flag in flags) + "\n"
    path = os.path.join(build_dir, name)
    old = None
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fp:
            old = fp.read()
    if old != text:
        os.makedirs(build_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fp:
            fp.write(text)
    return "@" + os.path.join(rel_build_dir, name)


env.Append(
    ASFLAGS=machine_flags,
    CCFLAGS=machine_flags
    + [
        "-O2",  # default; an -O in build_flags comes later and wins
        "-ffunction-sections",
        "-fdata-sections",
        "-fno-common",
        # Same sources in another folder give the same binary (__FILE__, debug info). Left out of
        # SCons's signature ($( $)): the same source and flags in another project then share one
        # object in a build cache (build_cache_dir), which makes TFLM compile once, not once per project.
        "$(",
        _response_file("prefix-map.rsp", ["-ffile-prefix-map=%s=." % project_dir]),
        "$)",
    ],
    CXXFLAGS=[
        "-fno-exceptions",
        "-fno-rtti",
        "-fno-threadsafe-statics",
    ],
    CPPDEFINES=[
        ("F_CPU", "$BOARD_F_CPU"),
        "TINYML_ARM",
    ],
    LINKFLAGS=machine_flags
    + [
        "-nostartfiles",
        "-specs=nano.specs",
        "-specs=nosys.specs",
        "-Wl,--gc-sections",
        "-Wl,--no-warn-rwx-segments",
        "-Wl,-Map=%s" % os.path.join(rel_build_dir, env.subst("${PROGNAME}.map")),
    ],
)

# ---------------------------------------------------------------- linker script

LDSCRIPT_TEMPLATE = """\
/* Generated by the tinyml-arm PlatformIO platform from board "{board_id}".
 * Do not edit: change the board manifest (or board_build.* in platformio.ini).
 *
 * Code, read-only data and the initial values of .data live in FLASH; .data,
 * .bss, the heap and the main stack live in RAM. The stack occupies the top
 * {stack_size} bytes of RAM, the heap is what lies between .bss and the stack. */

ENTRY(Reset_Handler)

MEMORY
{{
  FLASH (rx)  : ORIGIN = 0x{flash_origin:08X}, LENGTH = {flash_size}
  RAM   (rwx) : ORIGIN = 0x{ram_origin:08X}, LENGTH = {ram_size}
}}

__flash_start = ORIGIN(FLASH);
__flash_size = LENGTH(FLASH);
__ram_start = ORIGIN(RAM);
__ram_size = LENGTH(RAM);
__stack_size = {stack_size};
_estack = ORIGIN(RAM) + LENGTH(RAM);
__stack_top = _estack;
__stack_limit = _estack - __stack_size;

SECTIONS
{{
  .isr_vector :
  {{
    . = ALIGN(4);
    KEEP(*(.isr_vector))
    . = ALIGN(4);
  }} > FLASH

  .text :
  {{
    *(.text .text.* .gnu.linkonce.t.*)
    *(.glue_7 .glue_7t .vfp11_veneer .v4_bx)
    KEEP(*(.init))
    KEEP(*(.fini))
    . = ALIGN(4);
  }} > FLASH

  .rodata :
  {{
    *(.rodata .rodata.* .gnu.linkonce.r.*)
    . = ALIGN(4);
  }} > FLASH

  .ARM.extab :
  {{
    *(.ARM.extab* .gnu.linkonce.armextab.*)
  }} > FLASH

  .ARM.exidx :
  {{
    __exidx_start = .;
    *(.ARM.exidx* .gnu.linkonce.armexidx.*)
    __exidx_end = .;
  }} > FLASH

  .preinit_array :
  {{
    PROVIDE_HIDDEN(__preinit_array_start = .);
    KEEP(*(.preinit_array*))
    PROVIDE_HIDDEN(__preinit_array_end = .);
  }} > FLASH

  .init_array :
  {{
    PROVIDE_HIDDEN(__init_array_start = .);
    KEEP(*(SORT(.init_array.*)))
    KEEP(*(.init_array*))
    PROVIDE_HIDDEN(__init_array_end = .);
  }} > FLASH

  .fini_array :
  {{
    PROVIDE_HIDDEN(__fini_array_start = .);
    KEEP(*(SORT(.fini_array.*)))
    KEEP(*(.fini_array*))
    PROVIDE_HIDDEN(__fini_array_end = .);
  }} > FLASH

  .data :
  {{
    . = ALIGN(4);
    _sdata = .;
    *(.data .data.* .gnu.linkonce.d.*)
    . = ALIGN(4);
    _edata = .;
  }} > RAM AT > FLASH
  _sidata = LOADADDR(.data);

  .bss (NOLOAD) :
  {{
    . = ALIGN(4);
    _sbss = .;
    __bss_start__ = _sbss;
    *(.bss .bss.* .gnu.linkonce.b.*)
    *(COMMON)
    . = ALIGN(4);
    _ebss = .;
    __bss_end__ = _ebss;
  }} > RAM

  /* Heap: from the end of .bss (8-aligned) up to the bottom of the stack. */
  __heap_start = ALIGN(_ebss, 8);
  __heap_end = __stack_limit;
  PROVIDE(end = __heap_start);
  PROVIDE(_end = __heap_start);

  /* Bytes of FLASH the image takes (code, constants, .data initial values)
   * and of RAM taken by static data (without heap and stack). */
  __flash_used = ABSOLUTE(_sidata + SIZEOF(.data) - ORIGIN(FLASH));
  __ram_used = ABSOLUTE(_ebss - ORIGIN(RAM));

  ASSERT(__heap_start <= __stack_limit,
         "RAM overflow: .data + .bss + stack do not fit in RAM")

  .ARM.attributes 0 : {{ *(.ARM.attributes) }}
}}
"""


def _generate_ldscript():
    values = dict(
        board_id=board.id,
        flash_origin=_board_int("build.flash_origin"),
        flash_size=_board_int("upload.maximum_size"),
        ram_origin=_board_int("build.ram_origin"),
        ram_size=_board_int("upload.maximum_ram_size"),
        stack_size=_board_int("build.stack_size", 8192),
    )
    if values["stack_size"] <= 0 or values["stack_size"] % 8:
        _fail("build.stack_size must be a positive multiple of 8")
    if values["stack_size"] >= values["ram_size"]:
        _fail("build.stack_size does not fit in RAM")
    text = LDSCRIPT_TEMPLATE.format(**values)
    path = os.path.join(env.subst("$BUILD_DIR"), "%s.ld" % board.id)
    old = None
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fp:
            old = fp.read()
    if old != text:  # rewrite only on change: no needless relink
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fp:
            fp.write(text)
    return path


generated_ldscript = None
if not board.get("build.ldscript", ""):
    generated_ldscript = _generate_ldscript()
    env.Replace(LDSCRIPT_PATH=os.path.relpath(generated_ldscript, project_dir))

# --------------------------------------------------------------------- targets

env.Append(
    BUILDERS=dict(
        ElfToBin=Builder(
            action=env.VerboseAction(
                "$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"
            ),
            suffix=".bin",
        )
    )
)

if "nobuild" in COMMAND_LINE_TARGETS:
    target_elf = os.path.join("$BUILD_DIR", "${PROGNAME}.elf")
    target_bin = os.path.join("$BUILD_DIR", "${PROGNAME}.bin")
else:
    target_elf = env.BuildProgram()
    if generated_ldscript:
        env.Depends(target_elf, generated_ldscript)
    target_bin = env.ElfToBin(os.path.join("$BUILD_DIR", "${PROGNAME}"), target_elf)

AlwaysBuild(env.Alias("nobuild", target_bin))
target_buildprog = env.Alias("buildprog", target_bin, target_bin)

# text / data / bss of firmware.elf after every build (PlatformIO's own
# "checkprogsize" adds the RAM/Flash percentages against the board limits).
target_memsize = env.AddPlatformTarget(
    "memsize",
    target_elf,
    env.VerboseAction("$SIZEPRINTCMD", "Size of ${SOURCE.file} (bytes):"),
    "Program Size",
    "Print text/data/bss of the firmware",
)

# Print after the .bin and PlatformIO's size check, not in the middle of them.
env.Depends(target_memsize, [target_bin, env.Alias("checkprogsize")])

Default([target_buildprog, target_memsize])
