"""The Data API's datasets (``sources/api/datasets.yaml``): which published tables the API
exposes, under which names, and which of their fields callers may filter and sort on.

Nothing about a field is written here twice: its type and description come from the dbt docs
of the mart (``dbt_project/models/marts/*.yml``, the same words the snapshot's comments carry),
its classification from the dictionary (a mart column that is a field of the entity whose
``mart`` it is takes that field's ``personal_data``). ``serve/`` reads the resolved datasets.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import Field

from tributary.contracts.dictionary import Dictionary
from tributary.contracts.specfile import (
    NAME_PATTERN,
    SpecError,
    SpecErrors,
    Strict,
    line_of,
    load_model,
)

# The snapshot's schema the API reads from (dbt's marts folder; publish copies it whole).
MART_SCHEMA = "marts"
# DuckDB types a filter or sort can compare (lists, structs and maps cannot).
COMPARABLE = ("varchar", "bigint", "integer", "date", "timestamp", "double", "boolean", "decimal")


class PageSize(Strict):
    default: int = Field(100, ge=1, description="Rows per page when the caller names no limit.")
    max: int = Field(1000, ge=1, le=10000, description="The most rows one page may hold.")


class DatasetSpec(Strict):
    model: str = Field(
        pattern=NAME_PATTERN,
        description="The dbt mart it serves (a model documented in dbt_project/models/marts).",
    )
    id: str = Field(
        description="The field `GET /v1/<dataset>/<id>` looks up; dbt must test it unique "
        "(keyset pagination orders by it)."
    )
    filter: list[str] = Field([], description="Fields callers may filter on.")
    sort: list[str] = Field([], description="Fields callers may sort on (the id always is).")
    exclude: list[str] = Field([], description="Documented fields the API never serves.")


class ApiFile(Strict):
    page_size: PageSize = PageSize()
    token_minutes: int = Field(
        15, ge=1, le=1440, description="How long an access token is valid, in minutes."
    )
    query_seconds: float = Field(
        10, gt=0, le=300, description="A query still running after this long is stopped (503)."
    )
    datasets: dict[str, DatasetSpec] = Field(
        description="Dataset name (the URL path, lower snake_case) → what it serves."
    )


@dataclass(frozen=True)
class ApiField:
    name: str
    data_type: str  # DuckDB's, from the dbt docs
    description: str
    personal: str | None  # the dictionary's kind of personal data, None when not personal

    @property
    def classification(self) -> str:
        return "personal" if self.personal else "internal"

    @property
    def comparable(self) -> bool:
        return _comparable(self.data_type)


@dataclass(frozen=True)
class Dataset:
    name: str
    model: str
    description: str
    id: str
    fields: dict[str, ApiField]
    filter: tuple[str, ...]
    sort: tuple[str, ...]


@dataclass(frozen=True)
class Api:
    page_size: PageSize
    token_minutes: int
    query_seconds: float
    datasets: dict[str, Dataset]


def _comparable(data_type: str) -> bool:
    return data_type.split("(")[0] in COMPARABLE


def api_path(sources_dir: Path) -> Path:
    return sources_dir / "api" / "datasets.yaml"


def documented_marts(dbt_project_dir: Path) -> dict[str, dict]:
    """Each mart model's dbt docs: its description, columns (name → {data_type, description,
    unique})."""
    marts: dict[str, dict] = {}
    for path in sorted((dbt_project_dir / "models" / MART_SCHEMA).glob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            columns = {
                c["name"]: {
                    "data_type": c.get("data_type", "varchar"),
                    "description": " ".join(str(c.get("description", "")).split()),
                    "unique": "unique" in (c.get("data_tests") or c.get("tests") or []),
                }
                for c in model.get("columns", [])
            }
            description = " ".join(str(model.get("description", "")).split())
            marts[model["name"]] = {"description": description, "columns": columns}
    return marts


def _personal_kinds(dictionary: Dictionary, model: str) -> dict[str, str]:
    entity = next((e for e in dictionary.entities.values() if e.mart == model), None)
    if entity is None:
        return {}
    return {n: f.personal_data for n, f in entity.fields.items() if f.personal_data}


def _dataset_errors(path: Path, node, name: str, spec: DatasetSpec, mart: dict) -> list[SpecError]:
    """Every field the dataset names that its mart's docs lack or cannot serve that way."""
    columns = mart["columns"]
    known = ", ".join(columns)
    errors = []
    for key in ("filter", "sort", "exclude"):
        for i, field in enumerate(getattr(spec, key)):
            where = line_of(node, ("datasets", name, key, i))
            if field not in columns:
                errors.append(
                    SpecError(
                        path,
                        where,
                        f"{name}.{key}: {field!r} is not a documented field of {spec.model}",
                        f"one of: {known}",
                    )  # fmt: skip
                )
            elif key != "exclude" and not _comparable(columns[field]["data_type"]):
                errors.append(
                    SpecError(
                        path,
                        where,
                        f"{name}.{key}: {field!r} is a "
                        f"{columns[field]['data_type']}, which cannot be compared",
                        "filter and sort on scalar fields only",
                    )  # fmt: skip
                )
    where = line_of(node, ("datasets", name, "id"))
    if spec.id not in columns:
        errors.append(SpecError(path, where, f"{name}.id: {spec.id!r} is not a documented field "
                                f"of {spec.model}", f"one of: {known}"))  # fmt: skip
    elif not columns[spec.id]["unique"] or spec.id in spec.exclude:
        errors.append(SpecError(path, where, f"{name}.id: {spec.id!r} is not tested unique "
                                f"in the dbt docs of {spec.model}, or is excluded",
                                "give the column `data_tests: [unique, not_null]`, or name "
                                "another id"))  # fmt: skip
    return errors


def load_api(sources_dir: Path, dbt_project_dir: Path, dictionary: Dictionary) -> Api | None:
    """The datasets file resolved against the dbt docs and the dictionary; None without one."""
    path = api_path(sources_dir)
    if not path.exists():
        return None
    model, node = load_model(path, ApiFile)
    marts = documented_marts(dbt_project_dir)
    errors: list[SpecError] = []
    if model.page_size.default > model.page_size.max:
        where = line_of(node, ("page_size", "default"))
        errors.append(SpecError(path, where, "page_size.default is above page_size.max",
                                "lower the default or raise the max"))  # fmt: skip
    datasets = {}
    for name, spec in model.datasets.items():
        if not re.match(NAME_PATTERN, name):
            errors.append(SpecError(path, line_of(node, ("datasets", name)),
                                    f"dataset name {name!r} is not lower snake_case",
                                    "use letters, digits and _ (it is a URL path)"))  # fmt: skip
            continue
        if spec.model not in marts:
            errors.append(SpecError(path, line_of(node, ("datasets", name, "model")),
                                    f"{name}.model: {spec.model!r} is no documented mart",
                                    f"one of: {', '.join(marts)}"))  # fmt: skip
            continue
        problems = _dataset_errors(path, node, name, spec, marts[spec.model])
        errors += problems
        if not problems:
            datasets[name] = _resolve(name, spec, marts[spec.model], dictionary)
    if errors:
        raise SpecErrors(errors)
    return Api(model.page_size, model.token_minutes, model.query_seconds, datasets)


def _resolve(name: str, spec: DatasetSpec, mart: dict, dictionary: Dictionary) -> Dataset:
    personal = _personal_kinds(dictionary, spec.model)
    fields = {
        column: ApiField(column, doc["data_type"], doc["description"], personal.get(column))
        for column, doc in mart["columns"].items()
        if column not in spec.exclude
    }
    sort = tuple(dict.fromkeys([*spec.sort, spec.id]))
    return Dataset(name, spec.model, mart["description"], spec.id, fields, tuple(spec.filter), sort)
