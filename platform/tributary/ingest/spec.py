"""Source specs: one YAML file per source system under ``sources/``, read into pydantic models.

A mistake in a file comes back as ``SpecError``s naming the file, the line and the fix, never
as a traceback. Values may reference environment variables as ``${NAME}``; secrets are only
ever given that way and are resolved when a load runs, not when the file is read.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
SOURCE_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlTable(_Strict):
    """One target table: a source table, or same-shaped shards unioned into one."""

    name: str = Field(pattern=SOURCE_NAME, description="Target table name in raw_<source>.")
    table: str | None = Field(None, description="Source table; defaults to `name`.")
    shards: str | None = Field(
        None,
        description="Glob of same-shaped source tables (e.g. `orders_[0-9]*`) loaded into one "
        "table; column `_source_table` says where each row came from.",
    )
    primary_key: str | list[str] | None = None
    incremental: str | None = Field(None, description="Cursor column (e.g. `updated_at`).")
    initial_value: Any = None

    @model_validator(mode="after")
    def _table_or_shards(self) -> SqlTable:
        if self.table and self.shards:
            raise ValueError("give either `table` or `shards`, not both")
        return self


class SqlDatabase(_Strict):
    credentials: str = Field(description="SQLAlchemy URL, usually `${SOME_ENV_VAR}`.")
    schema_: str | None = Field(None, alias="schema")
    backend: Literal["pyarrow", "sqlalchemy", "pandas", "connectorx"] = "pyarrow"
    chunk_size: int = 50_000
    tables: list[SqlTable] = Field(min_length=1)


class FileTable(_Strict):
    name: str = Field(pattern=SOURCE_NAME)
    glob: str
    format: Literal["csv"] = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    primary_key: str | list[str] | None = Field(
        None, description="Merge on this key; by default rows are keyed by file and line."
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, gbk, gb18030)") from exc
        return value


class Filesystem(_Strict):
    bucket_url: str = Field(description="Folder or bucket URL, usually `${SOME_ENV_VAR}`.")
    tables: list[FileTable] = Field(min_length=1)


class SourceSpec(_Strict):
    """A source system: where it is, how to reach it, which tables it gives."""

    name: str = Field(pattern=SOURCE_NAME, description="Loads into schema raw_<name>.")
    description: str = ""
    kind: Literal["rest_api", "sql_database", "filesystem"]
    naming: Literal["snake_case", "duck_case"] = Field(
        "snake_case",
        description="How dlt names columns: snake_case (staffID -> staff_id) or duck_case "
        "(names kept as they are, e.g. Chinese headers).",
    )
    rest_api: dict[str, Any] | None = Field(
        None, description="dlt rest_api configuration (client, resource_defaults, resources)."
    )
    sql_database: SqlDatabase | None = None
    filesystem: Filesystem | None = None

    @model_validator(mode="after")
    def _section_matches_kind(self) -> SourceSpec:
        sections = {"rest_api", "sql_database", "filesystem"}
        present = {s for s in sections if getattr(self, s) is not None}
        if present != {self.kind}:
            raise ValueError(
                f"kind is {self.kind!r}: give exactly one section named `{self.kind}`"
                + (f" (found: {', '.join(sorted(present))})" if present else "")
            )
        return self

    @property
    def dataset(self) -> str:
        """The DuckDB schema, dlt dataset and dbt source name of this system."""
        return f"raw_{self.name}"

    def table_names(self) -> list[str]:
        if self.kind == "rest_api":
            return [r if isinstance(r, str) else r["name"] for r in self.rest_api["resources"]]
        section = self.sql_database if self.kind == "sql_database" else self.filesystem
        return [t.name for t in section.tables]


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


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
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


def _fields_at(loc: tuple) -> list[str]:
    """Known keys of the model at a location, for did-you-mean suggestions."""
    model: type[BaseModel] = SourceSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        annotation = getattr(field, "annotation", None)
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not None]
        nested = [getattr(a, "__args__", (a,))[0] for a in nested]
        model = next((a for a in nested if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return [f.alias or n for n, f in model.model_fields.items()]


def load_spec(path: Path) -> SourceSpec:
    """Read and validate one source file, or raise SpecErrors naming each mistake's line."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecErrors(
            [
                SpecError(
                    path,
                    mark.line + 1 if mark else None,
                    f"not valid YAML: {exc.problem}",
                    "check indentation and quoting on that line",
                )
            ]
        ) from None
    if not isinstance(data, dict):
        raise SpecErrors([SpecError(path, 1, "expected a mapping of keys", "see sources/*.yaml")])
    try:
        spec = SourceSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecErrors(
            [
                SpecError(
                    path,
                    _line_of(node, err["loc"]),
                    f"{'.'.join(map(str, err['loc'])) or 'file'}: {err['msg']}",
                    _fix_for(err, _fields_at(err["loc"])),
                )
                for err in exc.errors()
            ]
        ) from None
    if spec.name != path.stem:
        raise SpecErrors(
            [
                SpecError(
                    path,
                    _line_of(node, ("name",)),
                    f"name {spec.name!r} differs from the file name",
                    f"rename the file to {spec.name}.yaml or set name: {path.stem}",
                )
            ]
        )
    return spec


def source_files(sources_dir: Path) -> list[Path]:
    """Source system files; the dictionary and mappings live beside them under other names."""
    return sorted(p for p in sources_dir.glob("*.yaml") if not p.name.startswith("_"))


def load_specs(sources_dir: Path) -> list[SourceSpec]:
    """All source files, or SpecErrors listing every mistake in every file."""
    specs, errors = [], []
    for path in source_files(sources_dir):
        try:
            specs.append(load_spec(path))
        except SpecErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise SpecErrors(errors)
    return specs


def missing_env(value: Any, environ: Mapping[str, str] | None = None) -> set[str]:
    """Names of the ``${VARS}`` a value needs that the environment lacks."""
    env = os.environ if environ is None else environ
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if isinstance(value, str):
        return {name for name in _ENV_REF.findall(value) if name not in env}
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(missing_env(v, env) for v in value))
    return set()


def resolve_env(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Replace ``${VARS}`` throughout a value; a missing variable is named, never guessed."""
    env = os.environ if environ is None else environ
    missing = missing_env(value, env)
    if missing:
        raise KeyError(f"environment variable(s) not set: {', '.join(sorted(missing))}")
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: env[m.group(1)], value)
    if isinstance(value, Mapping):
        return {k: resolve_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, env) for v in value]
    if isinstance(value, BaseModel):
        return type(value).model_validate(resolve_env(value.model_dump(by_alias=True), env))
    return value
