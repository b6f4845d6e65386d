"""The whole generated set: every dbt file the dictionary and the mappings imply (staging and
conformed models with their sources, docs and tests) and the dictionary page, and which files
on disk are stale.

Why generated files rather than macros that read the YAML at compile time: a dbt user reads
plain SQL calling a handful of named conversion macros (``dbt_project/macros/convert.sql``),
a change to a mapping shows up in review as a diff of that SQL, and ``dbt docs`` shows
exactly what runs. ``tributary generate --check`` fails CI when a file is stale.
"""

from pathlib import Path

from tributary.contracts.dictionary import Dictionary, Entity
from tributary.contracts.mapping import SourceMapping
from tributary.contracts.resolved import MappedTable, load_mappings_for, mapped_tables
from tributary.settings import Settings
from tributary.standardize.dbt_codegen.conformed import (
    conformed_sql,
    crosswalk_mart_sql,
    crosswalk_sql,
)
from tributary.standardize.dbt_codegen.docs import (
    CROSSWALK_MART_YAML,
    conformed_yaml,
    dictionary_page,
    quality_sources_yaml,
    xref_seeds_yaml,
)
from tributary.standardize.dbt_codegen.staging import sources_yaml, staging_sql, staging_yaml
from tributary.standardize.dbt_codegen.text import GENERATED_MARK, yaml_text


def _staging_files(
    mappings: list[SourceMapping], tables: list[MappedTable], models: Path
) -> dict[Path, str]:
    """Per source: its staging models, their docs and its dbt source."""
    files: dict[Path, str] = {}
    for mapping in mappings:
        own = [t for t in tables if t.source is mapping]
        folder = models / "staging" / mapping.name
        files[folder / f"_{mapping.name}__sources.yml"] = yaml_text(
            sources_yaml(mapping, own), mapping.path.name
        )
        files[folder / f"_{mapping.name}__models.yml"] = yaml_text(
            staging_yaml(mapping, own), mapping.path.name
        )
        for t in own:
            files[folder / f"{t.model}.sql"] = staging_sql(t)
    return files


def _conformed_files(
    entities: dict[str, tuple[Entity, list[MappedTable]]], models: Path
) -> dict[Path, str]:
    """Per mapped entity: its conformed model and crosswalk, with their docs; the crosswalk mart."""
    conformed = models / "intermediate" / "conformed"
    files = {
        conformed / "_conformed__models.yml": yaml_text(conformed_yaml(entities), "mappings"),
        conformed / "_quality__sources.yml": yaml_text(
            quality_sources_yaml(list(entities)), "the mappings"
        ),
    }
    for name, (entity, own) in entities.items():
        files[conformed / f"int_{name}__conformed.sql"] = conformed_sql(name, entity, own)
        if len(entity.keys) == 1:
            files[conformed / f"int_{name}__crosswalk.sql"] = crosswalk_sql(name, entity, own)
    return files


def generated_files(
    mappings: list[SourceMapping], dictionary: Dictionary, dbt_dir: Path
) -> dict[Path, str]:
    """Every generated dbt file (path → text) for these mappings and this dictionary."""
    models = dbt_dir / "models"
    tables = mapped_tables(mappings, dictionary)
    files = _staging_files(mappings, tables, models)
    entities = {
        name: (entity, [t for t in tables if t.entity_name == name])
        for name, entity in dictionary.entities.items()
        if any(t.entity_name == name for t in tables)
    }
    files |= _conformed_files(entities, models)
    xrefs = [name for name, entity in dictionary.entities.items() if "xref" in entity.match]
    if xrefs:
        files[dbt_dir / "seeds" / "xref" / "_xref__seeds.yml"] = yaml_text(
            xref_seeds_yaml(xrefs, dictionary), "the dictionary's match rules"
        )
    files[models / "marts" / "crosswalk.sql"] = crosswalk_mart_sql(entities)
    files[models / "marts" / "_crosswalk__models.yml"] = yaml_text(
        CROSSWALK_MART_YAML, "the mappings"
    )
    return files


def is_generated(path: Path) -> bool:
    """A file this package wrote (its header says so): stale ones are removed on regenerate."""
    try:
        head = path.read_text(encoding="utf-8")[:120]
    except (OSError, UnicodeDecodeError):
        return False
    return GENERATED_MARK in head


def stale_files(files: dict[Path, str], dbt_dir: Path) -> tuple[list[Path], list[Path]]:
    """(files to write, generated files to delete) to bring the dbt project up to date."""
    write = [p for p, text in files.items() if not p.exists() or p.read_text("utf-8") != text]
    existing = [
        p
        for folder in ("models", "seeds")
        for p in (dbt_dir / folder).rglob("*")
        if p.is_file() and is_generated(p)
    ]
    delete = [p for p in existing if p not in files]
    return write, delete


def project_files(settings: Settings) -> dict[Path, str]:
    """Every generated file of the project: the dbt models and the dictionary page."""
    dictionary, mappings = load_mappings_for(settings)
    files = generated_files(mappings, dictionary, settings.dbt_project_dir)
    # beside the dbt project it describes (a copy of the project gets its own page)
    docs = settings.dbt_project_dir.parent / "docs" / "dictionary.md"
    files[docs] = dictionary_page(mappings, dictionary)
    return files
