"""What a source file may say about its environment: ``${NAME}`` references, never secrets.

Checked on the file as written (its YAML nodes, for the lines), not on the resolved spec: once
``${VARS}`` are resolved a password is expected to be there.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tributary.contracts.rest_api import SECRET_KEYS
from tributary.contracts.specfile import SpecError

_START = "${"
_REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*\}")
_REFERENCE_ONLY = re.compile(r"^\s*(\$\{[A-Z_][A-Z0-9_]*\}\s*)+$")
# scheme://user:password@host, and ?password=… / &pwd=… in a URL's query.
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:?#]*:([^@/?#]*)@")
_QUERY_PASSWORD = re.compile(r"[?&](?:password|passwd|pwd)=([^&#]*)", re.IGNORECASE)
_REFERENCE_FIX = "write `${NAME}`: `${`, a NAME of capitals, digits and _, then `}`"
_SECRET_FIX = (
    "put it in an environment variable and write `${NAME}` here; for a local throwaway "
    "setup only, `allow_literal_secrets: true` at the top of the file accepts it"
)


def _scalars(node: yaml.Node | None, loc: tuple = ()) -> Iterator[tuple[tuple, yaml.ScalarNode]]:
    """Every scalar value of a document with the keys leading to it (aliases visited once)."""
    seen: set[int] = set()
    stack: list[tuple[tuple, Any]] = [(loc, node)] if node is not None else []
    while stack:
        where, current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode):
            yield where, current
        elif isinstance(current, yaml.MappingNode):
            stack.extend(((*where, str(k.value)), v) for k, v in current.value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(((*where, i), v) for i, v in enumerate(current.value))


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "file"


def bad_references(path: Path, node: yaml.Node | None) -> list[SpecError]:
    """``${`` that does not start a well-formed reference: it would be taken literally."""
    errors = []
    for loc, scalar in _scalars(node):
        text = str(scalar.value)
        start = text.find(_START)
        while start >= 0:
            if not _REFERENCE.match(text, start):
                shown = text[start : start + 40]
                message = f"{_field(loc)}: `{shown}` is not an environment reference"
                errors.append(SpecError(path, scalar.start_mark.line + 1, message, _REFERENCE_FIX))
                break
            start = text.find(_START, start + 2)
    return sorted(errors, key=lambda e: e.line or 0)


def _is_literal(value: str) -> bool:
    return bool(value) and not _REFERENCE_ONLY.match(value)


def literal_secrets(path: Path, node: yaml.Node | None) -> list[SpecError]:
    """Passwords in URLs and values of secret keys (token, password…) written in the file."""
    errors = []
    for loc, scalar in _scalars(node):
        text = str(scalar.value)
        found = (_URL_PASSWORD.match(text), _QUERY_PASSWORD.search(text))
        in_url = [m.group(1) for m in found if m]
        what = ""
        if any(_is_literal(password) for password in in_url):
            what = "a password written in a URL"
        elif loc and loc[-1] in SECRET_KEYS and _is_literal(text):
            what = f"a literal `{loc[-1]}`"
        if what:
            message = f"{_field(loc)}: {what}; secrets never sit in files"
            errors.append(SpecError(path, scalar.start_mark.line + 1, message, _SECRET_FIX))
    return sorted(errors, key=lambda e: e.line or 0)
