"""File sources: new files in a folder or bucket matching a glob, parsed as text.

Each row keeps the file and line it came from, so a re-read after a crash merges instead of
doubling, and a bad value can be traced back to the export that carried it.
"""

import codecs
import csv
import io
from collections.abc import Iterator
from typing import Any, Literal

import dlt
from dlt.sources.filesystem import FileItemDict, filesystem
from pydantic import Field, field_validator

from tributary.specfile import Strict

FILE_NAME_COLUMN = "_file_name"  # which export file a row came from
FILE_LINE_COLUMN = "_line"  # its line in that file (header = line 1)
TABLE_NAME = r"^[a-z][a-z0-9_]*$"


class FileTable(Strict):
    name: str = Field(pattern=TABLE_NAME)
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
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, gbk, gb18030)") from exc
        return value


class Filesystem(Strict):
    bucket_url: str = Field(description="Folder or bucket URL, usually `${SOME_ENV_VAR}`.")
    tables: list[FileTable] = Field(min_length=1)


def file_resources(fs: Filesystem) -> list[Any]:
    """One dlt resource per target table."""
    return [_file_resource(fs.bucket_url, table) for table in fs.tables]


def _file_resource(bucket_url: str, table: FileTable) -> Any:
    """New files matching a glob, each parsed as text (no type guessing in the raw layer)."""
    files = filesystem(bucket_url=bucket_url, file_glob=table.glob).with_name(f"{table.name}_files")
    files.apply_hints(incremental=dlt.sources.incremental("modification_date"))

    @dlt.transformer(
        name=table.name,
        primary_key=table.primary_key or [FILE_NAME_COLUMN, FILE_LINE_COLUMN],
        write_disposition="merge",
    )
    def rows(items: list[FileItemDict]) -> Iterator[list[dict[str, Any]]]:
        for item in items:
            yield read_delimited(item.read_bytes(), item["file_name"], table)

    return files | rows


def read_delimited(content: bytes, file_name: str, table: FileTable) -> list[dict[str, Any]]:
    """Rows of one delimited file as strings, keyed by file and line so re-reads merge."""
    try:
        text = content.decode(table.encoding)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{file_name}: line {line} is not valid {table.encoding} — check the `encoding` "
            f"of table {table.name!r}"
        ) from None
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=table.delimiter)
    return [
        {**row, FILE_NAME_COLUMN: file_name, FILE_LINE_COLUMN: reader.line_num} for row in reader
    ]
