"""The ``filesystem`` section of a source file: files in a folder or bucket, one table per glob.

How files are read and loaded is in ``ingest/kinds/filesystem``; this is the file format.
"""

import codecs
from pathlib import PurePosixPath
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tributary.contracts.load_mode import LoadMode
from tributary.contracts.specfile import NAME_PATTERN, Identifier, Strict

TEXT_FORMATS = frozenset({"csv", "tsv", "json", "jsonl"})  # the formats an `encoding` applies to
FileFormat = Literal["csv", "tsv", "excel", "json", "jsonl", "parquet"]
# Options that only mean something for some formats: elsewhere they are a mistake to report.
_OPTION_FORMATS: dict[str, frozenset[str]] = {
    "encoding": TEXT_FORMATS,
    "delimiter": frozenset({"csv"}),
    "header_row": frozenset({"csv", "tsv", "excel"}),
    "sheet": frozenset({"excel"}),
    "records": frozenset({"json"}),
}
# A glob ending in one of these names its format; a different `format` is surely a mistake.
_EXTENSION_FORMATS: dict[str, frozenset[str]] = {
    ".csv": frozenset({"csv", "tsv"}),
    ".tsv": frozenset({"csv", "tsv"}),
    ".xlsx": frozenset({"excel"}),
    ".xlsm": frozenset({"excel"}),
    ".xls": frozenset(),  # the old binary format: openpyxl reads .xlsx only
    ".json": frozenset({"json", "jsonl"}),
    ".jsonl": frozenset({"jsonl"}),
    ".ndjson": frozenset({"jsonl"}),
    ".parquet": frozenset({"parquet"}),
}


class FileTable(Strict):
    """One raw table, filled from every file whose path under the bucket matches `glob`."""

    name: str = Field(pattern=NAME_PATTERN)
    glob: str = Field(description="Files under bucket_url, e.g. `invoices_*.csv`, `**/*.json`.")
    format: FileFormat = Field(
        "csv",
        validate_default=True,
        description="csv, tsv, excel (.xlsx), json (an array, or one under `records`), "
        "jsonl (one object per line) or parquet.",
    )
    encoding: str = Field(
        "utf-8",
        description="Of text formats: e.g. utf-8, gbk, gb18030, utf-16; `auto` tries utf-8, "
        "then gb18030. A byte order mark (UTF-8 or UTF-16) is detected and always wins.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="csv only.")
    header_row: int = Field(1, ge=1, description="The line (sheet row) holding column names.")
    sheet: Annotated[int, Field(ge=0)] | str = Field(
        0, description="excel only: a sheet name, or its position counted from 0."
    )
    records: str | None = Field(
        None, min_length=1, description="json only: dotted key of the list, e.g. `data.items`."
    )
    primary_key: Identifier | list[Identifier] | None = Field(
        None, description="Merge on this key; by default rows are keyed by file and line."
    )
    load: LoadMode | None = Field(
        None,
        description="merge (default): a re-delivered file replaces its rows. append: every "
        "file's rows are added. replace: each run reloads all matching files. scd2: a "
        "re-delivered file's changed rows are versioned.",
    )

    @property
    def mode(self) -> LoadMode:
        """Rows are keyed by file and line unless a key is declared: the rule's key → merge."""
        return self.load or "merge"

    @field_validator("glob")
    @classmethod
    def _inside_bucket(cls, value: str) -> str:
        # The glob is joined to bucket_url: it must not climb out of it or name another place.
        parts = PurePosixPath(value.replace("\\", "/")).parts
        if not value.strip():
            raise ValueError("an empty glob: give e.g. `invoices_*.csv`")
        if "\0" in value or "://" in value or value.startswith(("/", "~")) or ".." in parts:
            raise ValueError(
                f"{value!r} leaves bucket_url: give a path under it, e.g. `exports/*.csv` "
                "(no leading /, ~, .. or URL); point bucket_url at the folder instead"
            )
        return value

    @field_validator("encoding", "delimiter", "header_row", "sheet", "records")
    @classmethod
    def _option_fits_format(cls, value: Any, info: ValidationInfo) -> Any:
        formats = _OPTION_FORMATS[info.field_name]
        fmt = info.data.get("format")
        # Defaults come back when a spec is re-validated (resolve_env dumps every field).
        is_default = value == cls.model_fields[info.field_name].default
        if fmt is not None and fmt not in formats and not is_default:
            raise ValueError(f"applies to {', '.join(sorted(formats))} files only, not {fmt}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value == "auto":
            return value
        try:
            # Decoding (not just a lookup) also rejects codecs that are not text encodings
            # (rot13, zlib); empty bytes would skip the lookup altogether.
            b"\0\0\0\0".decode(value)
        except LookupError as exc:
            raise ValueError(
                f"unknown encoding {value!r} (e.g. utf-8, gbk, gb18030, utf-16, auto)"
            ) from exc
        return codecs.lookup(value).name

    @field_validator("format")
    @classmethod
    def _format_fits_glob(cls, value: str, info: ValidationInfo) -> str:
        glob = info.data.get("glob", "")
        suffix = PurePosixPath(glob.removesuffix(".gz")).suffix.lower()
        expected = _EXTENSION_FORMATS.get(suffix)
        if expected is not None and value not in expected:
            hint = f"use `format: {sorted(expected)[0]}`" if expected else "save them as .xlsx"
            raise ValueError(f"is {value} but the glob matches {suffix} files: {hint}")
        return value

    @model_validator(mode="after")
    def _key_needs_merge(self) -> "FileTable":
        if self.primary_key and self.load not in (None, "merge"):
            raise ValueError(f"primary_key applies to `load: merge` only, not {self.load}")
        return self


class Filesystem(Strict):
    bucket_url: str = Field(description="Folder or bucket URL, usually `${SOME_ENV_VAR}`.")
    tables: list[FileTable] = Field(min_length=1)
    # Raw column -> staging lineage column of what places a row in its delivery: the newest
    # delivery of a record wins, and a quarantined row is traced back to its file and line.
    ROW_POSITION: ClassVar[dict[str, str]] = {"_file_name": "_source_file", "_line": "_source_line"}

    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]
