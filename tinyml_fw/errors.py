"""The user-facing errors: each says what is wrong and what to do, and carries its exit code."""

# Documented exit codes (README, `tinyml-fw --help`).
EXIT_OK = 0
EXIT_VALIDATION_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_DEVICE = 3
EXIT_MISSING_TOOL = 4
EXIT_BUILD_FAILED = 5
EXIT_INTERRUPTED = 130


class TfwError(Exception):
    """An error the CLI prints as one line, then exits with `exit_code`."""

    exit_code = EXIT_BAD_INPUT


class BadInput(TfwError):
    """A file, name or option the user gave cannot be used."""


class DeviceError(TfwError):
    """The device did not answer, answered garbage, or runs another model or protocol."""

    exit_code = EXIT_DEVICE


class MissingTool(TfwError):
    """A compiler, emulator or package the stage needs is not installed."""

    exit_code = EXIT_MISSING_TOOL


class BuildFailed(TfwError):
    """The firmware did not compile or link."""

    exit_code = EXIT_BUILD_FAILED


class ValidationFailed(TfwError):
    """The device's results differ from the reference."""

    exit_code = EXIT_VALIDATION_FAILED
