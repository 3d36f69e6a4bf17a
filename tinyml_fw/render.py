"""The one Jinja environment: templates/ only, StrictUndefined, C-safe filters."""

from __future__ import annotations

import functools
import json

import jinja2

from tinyml_fw.cnames import c_comment, c_identifier, c_string
from tinyml_fw.paths import TEMPLATES


def _hex_rows(data: bytes, per_row: int = 12) -> list[str]:
    return [", ".join(f"0x{b:02x}" for b in data[i : i + per_row]) for i in range(0, len(data), per_row)]


def _int_rows(values, per_row: int = 16) -> list[str]:
    return [", ".join(str(v) for v in values[i : i + per_row]) for i in range(0, len(values), per_row)]


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(cname=c_identifier, cstr=c_string, ccomment=c_comment, hex_rows=_hex_rows,
                       int_rows=_int_rows, json=json.dumps)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
