"""tinyml-arm development platform (build rules: builder/main.py).

The platform declares no packages: the compiler is the arm-none-eabi GCC found
on PATH and firmware runs on QEMU through tinyml_fw.emulator, so there is
nothing to install from the PlatformIO registry and nothing to upload.
"""

from platformio.public import PlatformBase


# PlatformIO derives the class name from the platform name "tinyml-arm".
class TinymlarmPlatform(PlatformBase):
    pass
