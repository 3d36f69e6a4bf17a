"""The one sanitiser for everything that reaches C: identifiers and string literals."""

from __future__ import annotations

import re

_C_KEYWORDS = frozenset([
    "alignas", "alignof", "auto", "bool", "break", "case", "char", "const", "constexpr", "continue", "default",
    "do", "double", "else", "enum", "extern", "false", "float", "for", "goto", "if", "inline", "int", "long",
    "nullptr", "register", "restrict", "return", "short", "signed", "sizeof", "static", "static_assert", "struct",
    "switch", "thread_local", "true", "typedef", "typeof", "union", "unsigned", "void", "volatile", "while",
    "class", "namespace", "new", "delete", "template", "this", "throw", "try", "catch", "private", "public",
    "protected", "virtual", "operator", "and", "and_eq", "bitand", "bitor", "compl", "not", "not_eq", "or", "or_eq",
    "xor", "xor_eq", "asm", "export", "friend", "mutable", "explicit", "typename", "using", "wchar_t", "char8_t",
    "char16_t", "char32_t", "concept", "requires", "co_await", "co_return", "co_yield", "consteval", "constinit",
    "decltype", "dynamic_cast", "static_cast", "reinterpret_cast", "const_cast", "noexcept", "typeid"
])
# Names the generated code or the headers it includes already use at file scope: the model's name becomes a
# C++ namespace (TFLM runtime) and a prefix, and must not collide with them.
_TAKEN = frozenset([
    "main", "std", "tflite", "errno", "assert", "stdin", "stdout", "stderr", "offsetof", "size_t", "ptrdiff_t",
    "intptr_t", "uintptr_t", "intmax_t", "uintmax_t", "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t",
    "uint16_t", "uint32_t", "uint64_t"
])
_MAX_IDENTIFIER = 48


def c_identifier(text: str, fallback: str = "model") -> str:
    """Any text → a valid, non-reserved C identifier (`my model-v2.tflite` → `my_model_v2_tflite`)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower()
    name = re.sub(r"_+", "_", name)[:_MAX_IDENTIFIER].rstrip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"m_{name}"
    if name in _C_KEYWORDS or name in _TAKEN or name.startswith("tfw_"):
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
