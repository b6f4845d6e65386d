"""Source specs: one YAML file per source system under ``sources/``, read into pydantic models.

A mistake in a file comes back as ``SpecError``s naming the file, the line and the fix, never
as a traceback. Values may reference environment variables as ``${NAME}``; secrets are only
ever given that way and are resolved when a load runs, not when the file is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, field_validator, model_validator

from tributary.contracts import references, specfile
from tributary.contracts.control import Control
from tributary.contracts.filesystem import Filesystem
from tributary.contracts.rest_api import RestApi, duration_seconds, positive_duration
from tributary.contracts.specfile import NAME_PATTERN, SpecErrors, Strict, load_model
from tributary.contracts.sql_database import SqlDatabase

_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_ANY_REF = re.compile(r"\$\{[^}]*\}?")  # anything that starts like a reference
_DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[smhdw]\s*$"  # for editors; parsed by duration_seconds


class Freshness(Strict):
    """How recently every table of a source must have loaded successfully.

    Measured from the last successful load recorded by Dagster, not from timestamps inside
    the data: a source that stops sending new rows but is reached every day is fresh, one
    whose loads fail is not, however new its last rows were.
    """

    warn_after: str = Field(
        description="Warn when the last successful load is older than this (e.g. 90m, 26h, 3d).",
        json_schema_extra={"pattern": _DURATION_PATTERN},
    )
    block_after: str | None = Field(
        None,
        description="Fail with severity ERROR when the last successful load is older than this; "
        "at least warn_after. Without it, staleness only ever warns.",
        json_schema_extra={"pattern": _DURATION_PATTERN},
    )

    @field_validator("warn_after", "block_after", mode="before")
    @classmethod
    def _is_duration(cls, value: Any) -> Any:
        return positive_duration(value)

    @model_validator(mode="after")
    def _block_after_warn(self) -> Freshness:
        if self.block_after is not None and self.block_delta < self.warn_delta:
            raise ValueError(
                f"block_after ({self.block_after}) is shorter than warn_after "
                f"({self.warn_after}): it must be at least as long"
            )
        return self

    @property
    def warn_delta(self) -> timedelta:
        return timedelta(seconds=duration_seconds(self.warn_after))

    @property
    def block_delta(self) -> timedelta | None:
        return (
            None
            if self.block_after is None
            else timedelta(seconds=duration_seconds(self.block_after))
        )

    def __str__(self) -> str:
        return f"warn after {self.warn_after}" + (
            f", block after {self.block_after}" if self.block_after else ""
        )


class SourceSpec(Strict):
    """A source system: where it is, how to reach it, which tables it gives."""

    name: str = Field(pattern=NAME_PATTERN, description="Loads into schema raw_<name>.")
    description: str = ""
    kind: Literal["rest_api", "sql_database", "filesystem"]
    naming: Literal["snake_case", "duck_case"] = Field(
        "snake_case",
        description="How dlt names columns: snake_case (staffID -> staff_id) or duck_case "
        "(names kept as they are, e.g. Chinese headers).",
    )
    rest_api: RestApi | None = Field(
        None, description="dlt rest_api configuration (client, resource_defaults, resources)."
    )
    sql_database: SqlDatabase | None = None
    filesystem: Filesystem | None = None
    contract: Literal["evolve", "freeze", "discard"] = Field(
        "evolve",
        description="When the data's shape changes: evolve (new columns flow in, reported), "
        "freeze (a new column or type fails the load) or discard (values that do not fit "
        "are dropped, reported).",
    )
    freshness: Freshness | None = Field(
        None,
        description="How recently each table must have loaded successfully, e.g. "
        "{warn_after: 26h, block_after: 72h}. Without it, the source gets no freshness check.",
    )
    control: Control = Field(
        default_factory=Control,
        description="Task control, e.g. {max_quarantined: 5%}: the share of a table's rows "
        "that may be quarantined before its load fails.",
    )
    allow_literal_secrets: bool = Field(
        False,
        description="For a local throwaway setup only: accept passwords, tokens and keys "
        "written in this file. Without it they must be `${ENV_VAR}` references.",
    )

    @model_validator(mode="after")
    def _section_matches_kind(self) -> SourceSpec:
        # Each kind's section is the field of the same name: the kinds are the Literal's values.
        sections = get_args(type(self).model_fields["kind"].annotation)
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

    @property
    def section(self) -> RestApi | SqlDatabase | Filesystem:
        """The section of this source's kind (``rest_api:``, ``sql_database:``, …)."""
        return getattr(self, self.kind)

    def table_names(self) -> list[str]:
        return self.section.table_names()


def load_spec(path: Path) -> SourceSpec:
    """Read and validate one source system's file."""
    spec, node = load_model(path, SourceSpec)
    problems = references.bad_references(path, node)
    if not spec.allow_literal_secrets:
        problems += references.literal_secrets(path, node)
    if problems:
        raise SpecErrors(problems)
    if spec.name != path.stem:
        raise SpecErrors(
            [
                specfile.SpecError(
                    path,
                    specfile.line_of(node, ("name",)),
                    f"name {spec.name!r} differs from the file name",
                    f"rename the file to {spec.name}.yaml or set name: {path.stem}",
                )
            ]
        )
    return spec


def source_files(sources_dir: Path) -> list[Path]:
    """Source system files; the dictionary and mappings live beside them under other names."""
    return sorted(
        p
        for p in sources_dir.glob("*.yaml")
        if not p.name.startswith("_") and not p.name.endswith(".mapping.yaml")
    )


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
    return {name for name in referenced(value) if name not in env}


# Variables whose values are kept out of errors and logs wherever they are used in a spec.
_SENSITIVE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|PRIVATE", re.IGNORECASE)


def secret_values(value: Any, environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of the sensitive-looking ``${VARS}`` a spec references (names like *_KEY)."""
    env = os.environ if environ is None else environ
    names = referenced(value)
    return [env[n] for n in sorted(names) if _SENSITIVE.search(n) and env.get(n)]


def referenced(value: Any) -> set[str]:
    """Names of the ``${VARS}`` a value (a model, mapping, list or string) references."""
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if isinstance(value, str):
        return set(_ENV_REF.findall(value))
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(referenced(v) for v in value))
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
