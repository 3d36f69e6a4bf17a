"""The one sanitiser for everything that reaches C: identifiers and string literals."""

from __future__ import annotations

import re

_C_KEYWORDS = frozenset("""
alignas alignof auto bool break case char const constexpr continue default do double else enum extern
false float for goto if inline int long nullptr register restrict return short signed sizeof static
static_assert struct switch thread_local true typedef typeof union unsigned void volatile while
class namespace new delete template this throw try catch private public protected virtual operator
""".split())
_MAX_IDENTIFIER = 48


def c_identifier(text: str, fallback: str = "model") -> str:
    """Any text → a valid, non-reserved C identifier (`my model-v2.tflite` → `my_model_v2_tflite`)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower()
    name = re.sub(r"_+", "_", name)[:_MAX_IDENTIFIER].rstrip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"m_{name}"
    if name in _C_KEYWORDS or name.startswith("tfw_"):
        name = f"m_{name}"
    return name


def c_string(text: str) -> str:
    """Any text → a C string literal that compiles to its UTF-8 bytes (quotes included)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in "\\\"":
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F and ch != "?":  # '?' escaped: no trigraphs
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_comment(text: str) -> str:
    """Text safe inside a /* */ comment on one line."""
    return re.sub(r"[\x00-\x1f]", " ", text).replace("*/", "* /").replace("/*", "/ *")
