"""tinyml-avr development platform (build rules: builder/main.py, builder/frameworks/arduino.py).

The platform declares no packages: the compiler is the avr-gcc found on PATH, the Arduino core is Debian's
arduino-core-avr, and firmware runs on simavr through tinyml_fw.emulator, so there is nothing to install
from the PlatformIO registry and nothing to upload.
"""

from platformio.public import PlatformBase


# PlatformIO derives the class name from the platform name "tinyml-avr".
class TinymlavrPlatform(PlatformBase):
    pass
