"""YAML files read into pydantic models, with mistakes reported as file, line and fix.

Shared by the source specs (ingest) and the data dictionary (standardize): a user editing
either gets the same kind of message, never a traceback.
"""

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)
# Source and table names: also the DuckDB schema/table and the Dagster key, so they must
# survive dlt's name normalization unchanged.
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
# A declared source identifier (a column or table of the source system) is quoted by the
# dialect wherever it reaches SQL, so spaces, capitals and any letters are fine; what can only
# be an attempt to end or comment out a statement is refused before it gets there.
IDENTIFIER_MAX = 128
IDENTIFIER_RULE = (
    "a column or table name may hold letters of any script, digits, spaces and _ - . $ # @ "
    "but no quotes, semicolons, parentheses, comment markers (-- /* */) or control characters"
)
_FORBIDDEN = ('"', "'", "`", ";", "(", ")", "--", "/*", "*/")


def check_identifier(value: str) -> str:
    """A source column or table name, as declared; see ``IDENTIFIER_RULE``."""
    if not value.strip():
        raise ValueError("an empty name: give the column or table name")
    if len(value) > IDENTIFIER_MAX:
        raise ValueError(f"a name of {len(value)} characters: at most {IDENTIFIER_MAX}")
    bad = [part for part in _FORBIDDEN if part in value]
    if bad or any(ord(c) < 32 or ord(c) == 127 for c in value):
        shown = ", ".join(bad) if bad else "a control character"
        raise ValueError(f"not a name ({shown} in it): {IDENTIFIER_RULE}")
    return value


Identifier = Annotated[str, AfterValidator(check_identifier)]


class Strict(BaseModel):
    # Never echo values in errors: at run time they hold resolved secrets.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


@dataclass(frozen=True)
class SpecError:
    file: Path
    line: int | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.message}" + (f" — fix: {self.fix}" if self.fix else "")


class SpecErrors(Exception):
    def __init__(self, errors: list[SpecError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based line of a pydantic error location: the key it names, or its closest parent."""
    line = node.start_mark.line + 1 if node else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                return line
            key, node = match[0]
            line = key.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _fix_for(error: Mapping[str, Any], model_fields: list[str]) -> str:
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(error["loc"][-1]), model_fields, n=1)
        return f"did you mean `{close[0]}`?" if close else "remove the key"
    if error["type"] == "missing":
        return f"add `{error['loc'][-1]}`"
    return ""


def _fields_at(root: type[BaseModel], loc: tuple) -> list[str]:
    """Known keys of the model at a location, for did-you-mean suggestions."""
    model: type[BaseModel] | None = root
    dict_key = False  # the part after a dict-typed field is one of its keys, not a field
    for part in loc[:-1]:
        if isinstance(part, int) or dict_key:
            dict_key = False
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        annotation = getattr(field, "annotation", None)
        dict_key = getattr(annotation, "__origin__", None) is dict
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not None]
        nested = [getattr(a, "__args__", (a,))[0] for a in nested]
        model = next((a for a in nested if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return [f.alias or n for n, f in model.model_fields.items()]


def duplicate_keys(path: Path, node: yaml.Node | None) -> list[SpecError]:
    """Keys given twice in one mapping: YAML keeps the last silently, hiding the first."""
    errors: list[SpecError] = []
    seen_nodes: set[int] = set()  # aliases share nodes: visit each once (and bombs stay small)
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in current.value:
                name, line = str(key.value), key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode) and name in first:
                    errors.append(
                        SpecError(
                            path,
                            line,
                            f"key `{name}` given twice in one mapping (first on line "
                            f"{first[name]}); YAML would keep only this one",
                            "remove one of them, or merge them",
                        )
                    )
                first.setdefault(name, line)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return sorted(errors, key=lambda e: e.line or 0)


def _key_path(node: yaml.Node | None, loc: tuple, kind: str) -> tuple[tuple, bool]:
    """``loc`` without pydantic's union branch names (``str``, ``function-after[…]``: the
    parts that are not keys in the file), and whether the error is only that the value has
    another of its forms (the last part was a branch name)."""
    kept: list[Any] = []
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == part]
            if not match and not (last and kind == "missing"):
                if last:
                    return tuple(kept), True
                continue  # a branch name: the value is still the same node
            node = match[0] if match else None
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        elif isinstance(node, yaml.ScalarNode) and isinstance(part, str):
            if last and kind.endswith("_type"):
                return tuple(kept), True
            if not last:
                continue
        kept.append(part)
    return tuple(kept), False


def _without_union_branches(errors: list[Any], node: yaml.Node | None) -> list[Any]:
    """Errors of a value that may take several forms (``sku`` or ``{to: sku, …}``): only the
    form the file used is reported, under the keys of the file."""
    cleaned = [(err, *_key_path(node, err["loc"], err["type"])) for err in errors]
    explained = [loc for _, loc, other_form in cleaned if not other_form]
    return [
        {**err, "loc": loc}
        for err, loc, other_form in cleaned
        if not (other_form and any(e[: len(loc)] == loc for e in explained))
    ]


def load_model(path: Path, model: type[M]) -> tuple[M, yaml.Node]:
    """Read and validate one YAML file, or raise SpecErrors naming each mistake's line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SpecErrors(
            [SpecError(path, line, "not valid UTF-8", "save the file as UTF-8")]
        ) from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except RecursionError:
        raise SpecErrors(
            [SpecError(path, None, "nested too deeply to read", "flatten the nested lists or maps")]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecErrors(
            [
                SpecError(
                    path,
                    mark.line + 1 if mark else None,
                    f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                    "check indentation and quoting on that line",
                )
            ]
        ) from None
    if not isinstance(data, dict):
        raise SpecErrors([SpecError(path, 1, "expected a mapping of keys", "see sources/")])
    twice = duplicate_keys(path, node)
    if twice:
        raise SpecErrors(twice)
    try:
        return model.model_validate(data), node
    except ValidationError as exc:
        raise SpecErrors(
            [
                SpecError(
                    path,
                    line_of(node, err["loc"]),
                    f"{'.'.join(map(str, err['loc'])) or 'file'}: {err['msg']}",
                    _fix_for(err, _fields_at(model, err["loc"])),
                )
                for err in _without_union_branches(exc.errors(), node)
            ]
        ) from None
