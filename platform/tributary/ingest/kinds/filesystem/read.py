"""One export file read into rows: every format and encoding, and where a bad file breaks.

CSV, TSV and Excel values stay text (leading zeros, ``1,234.50`` and ``2024年3月5日`` survive);
JSON and Parquet keep their own types. Every row carries ``_file_name`` and ``_line``: the
line in a CSV, TSV or JSON Lines file (header = line 1), the row in an Excel sheet, the
record's position in a JSON array or a Parquet file.

A file is parsed to its end before its first row is handed on (rows beyond the first chunk
wait in a temporary file, so memory stays bounded): a file that breaks at line 90,000 gives
no rows at all, never half an export, and ``encoding: auto`` can start over in gb18030.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import pickle
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any
from xml.etree.ElementTree import ParseError as XmlParseError

import openpyxl
import pyarrow as pa
from openpyxl.utils.exceptions import InvalidFileException
from pyarrow import parquet

from tributary.contracts.filesystem import TEXT_FORMATS

if TYPE_CHECKING:
    from tributary.contracts.filesystem import FileTable

FILE_NAME_COLUMN = "_file_name"  # which export file a row came from
FILE_LINE_COLUMN = "_line"  # where in that file (see the module docstring)
AUTO_ENCODINGS = ("utf-8", "gb18030")  # what `encoding: auto` tries, in order
CHUNK_ROWS = 10_000  # rows per item handed to dlt
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),  # the utf-16 codec reads the BOM to pick the byte order
    (codecs.BOM_UTF16_BE, "utf-16"),
)

Rows = list[dict[str, Any]]
Opener = Callable[[], IO[bytes]]
Parser = Callable[[IO[bytes], str, "FileTable", str], Iterator[Rows]]


class FileParseError(ValueError):
    """Why a file cannot be read, and where: line (or sheet row) and column when known."""

    def __init__(
        self, file_name: str, message: str, line: int | None = None, column: int | None = None
    ):
        self.file_name, self.message, self.line, self.column = file_name, message, line, column
        where = f": line {line}" if line else ""
        if line and column:
            where += f", column {column}"
        super().__init__(f"{file_name}{where}: {message}")


def read_rows(open_file: Opener, file_name: str, table: FileTable) -> Iterator[Rows]:
    """Chunks of one file's rows, or FileParseError before the first chunk is given."""
    parse = _PARSERS[table.format]
    if table.format not in TEXT_FORMATS:
        return _parse_whole(open_file, parse, "", table, file_name)
    candidates = _encodings(open_file, table.encoding)
    *fallbacks, last = candidates
    for encoding in fallbacks:
        with contextlib.suppress(UnicodeDecodeError):
            return _parse_whole(open_file, parse, encoding, table, file_name)
    try:
        return _parse_whole(open_file, parse, last, table, file_name)
    except UnicodeDecodeError:
        line, column = _decode_error_at(open_file, last)
        raise FileParseError(
            file_name,
            f"not valid {' or '.join(candidates)} — check the `encoding` of table {table.name!r}",
            line,
            column,
        ) from None


def _encodings(open_file: Opener, declared: str) -> Sequence[str]:
    """A byte order mark settles the encoding; otherwise the declared one, or auto's list."""
    with open_file() as raw:
        head = raw.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return (encoding,)
    return AUTO_ENCODINGS if declared == "auto" else (declared,)


def _parse_whole(
    open_file: Opener, parse: Parser, encoding: str, table: FileTable, file_name: str
) -> Iterator[Rows]:
    """Run a parse to its end, keeping chunks beyond the first on disk, then replay them."""
    with open_file() as raw:
        chunks = parse(raw, encoding, table, file_name)
        first = next(chunks, [])
        spool = tempfile.TemporaryFile()
        try:
            for chunk in chunks:
                pickle.dump(chunk, spool)
        except BaseException:
            spool.close()
            raise
    return _replay(first, spool)


def _replay(first: Rows, spool: IO[bytes]) -> Iterator[Rows]:
    with spool:
        if first:
            yield first
        end = spool.tell()
        spool.seek(0)
        while spool.tell() < end:
            yield pickle.load(spool)  # our own temporary file, written just above


def _decode_error_at(open_file: Opener, encoding: str) -> tuple[int, int]:
    """Line and column of the first undecodable byte: a second pass, run only on failure."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, column = 1, 1
    with open_file() as raw:
        while True:
            chunk = raw.read(1 << 16)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                text = exc.object[: exc.start].decode(exc.encoding, errors="replace")
                return _advance(line, column, text)
            line, column = _advance(line, column, text)
            if not chunk:
                return line, column


def _advance(line: int, column: int, text: str) -> tuple[int, int]:
    if line == column == 1:
        text = text.removeprefix("\ufeff")
    breaks = text.count("\n")
    if not breaks:
        return line, column + len(text)
    return line + breaks, len(text) - text.rfind("\n")


def _delimited(raw: IO[bytes], encoding: str, table: FileTable, file_name: str) -> Iterator[Rows]:
    """CSV or TSV records as text; a record's line is the line it starts on."""
    reader = csv.reader(
        io.TextIOWrapper(raw, encoding=encoding, newline=""),
        delimiter="\t" if table.format == "tsv" else table.delimiter,
        strict=True,  # an unclosed quote is an error, not a field swallowing the file's rest
    )

    def records() -> Iterator[tuple[int, list[str]]]:
        while True:
            line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileParseError(file_name, f"not valid {table.format}: {exc}", line) from None
            yield line, record

    return _table_rows(records(), table, file_name)


def _excel(raw: IO[bytes], _: str, table: FileTable, file_name: str) -> Iterator[Rows]:
    """One sheet's rows as text, streamed (read-only mode); a row's line is its sheet row."""
    try:
        book = openpyxl.load_workbook(raw, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, XmlParseError) as exc:
        raise FileParseError(file_name, f"not a valid .xlsx workbook: {exc}") from None
    try:
        sheet = _sheet(book, table.sheet, file_name)
        sheet.reset_dimensions()  # stored dimensions may be wrong: read every row there is
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        yield from _table_rows(
            ((n, [_cell_text(v) for v in row]) for n, row in rows), table, file_name
        )
    except XmlParseError as exc:
        raise FileParseError(file_name, f"unreadable sheet data: {exc}") from None
    finally:
        book.close()


def _sheet(book: Any, sheet: str | int, file_name: str) -> Any:
    names = book.sheetnames
    if sheet in names:
        return book[sheet]
    if isinstance(sheet, int) and sheet < len(names):
        return book.worksheets[sheet]
    raise FileParseError(file_name, f"no sheet {sheet!r}; the workbook has {names}")


def _cell_text(value: Any) -> str | None:
    """A cell as the text a person reads: 7.0 -> "7", a midnight date -> "2024-03-05"."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _table_rows(
    records: Iterator[tuple[int, Sequence[str | None]]], table: FileTable, file_name: str
) -> Iterator[Rows]:
    """Text records under a header row, in chunks; records with no value at all are skipped."""
    names: list[str] | None = None
    chunk: Rows = []
    for line, values in records:
        if line < table.header_row or all(v in (None, "") for v in values):
            continue
        if names is None:
            names = _header(values, file_name, line)
            continue
        chunk.append(_row(names, values, file_name, line))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _header(values: Sequence[str | None], file_name: str, line: int) -> list[str]:
    """Column names as sent; a missing or repeated name is an error, not a guess."""
    width = len(values)
    while width and values[width - 1] in (None, ""):
        width -= 1  # trailing delimiters, formatted-but-empty Excel columns
    names: list[str] = []
    for column, name in enumerate(values[:width], start=1):
        if not name:
            raise FileParseError(file_name, "this header column has no name", line, column)
        if name in names or name in (FILE_NAME_COLUMN, FILE_LINE_COLUMN):
            first = f"column {names.index(name) + 1}" if name in names else "a Tributary column"
            raise FileParseError(file_name, f"header name {name!r} repeats {first}", line, column)
        names.append(name)
    return names


def _row(names: list[str], values: Sequence[str | None], file_name: str, line: int) -> dict:
    """A record keyed by the header; a value beyond the header's last column is an error."""
    for column, value in enumerate(values[len(names) :], start=len(names) + 1):
        if value not in (None, ""):
            raise FileParseError(
                file_name, f"a value beyond the header's {len(names)} columns", line, column
            )
    row = dict(zip(names, values, strict=False))
    row[FILE_NAME_COLUMN], row[FILE_LINE_COLUMN] = file_name, line
    return row


def _json_lines(raw: IO[bytes], encoding: str, _: FileTable, file_name: str) -> Iterator[Rows]:
    """One JSON object per line, streamed; blank lines are skipped."""
    chunk: Rows = []
    for line, text in enumerate(io.TextIOWrapper(raw, encoding=encoding, newline=""), start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileParseError(file_name, f"not valid JSON: {exc.msg}", line, exc.colno) from None
        chunk.append(_record(value, file_name, line))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _json(raw: IO[bytes], encoding: str, table: FileTable, file_name: str) -> Iterator[Rows]:
    """A JSON array of objects, or one under `records`; read whole (no streaming JSON parser)."""
    try:
        records = json.loads(io.TextIOWrapper(raw, encoding=encoding).read())
    except json.JSONDecodeError as exc:
        raise FileParseError(
            file_name, f"not valid JSON: {exc.msg}", exc.lineno, exc.colno
        ) from None
    for key in table.records.split(".") if table.records else []:
        if not isinstance(records, dict) or key not in records:
            raise FileParseError(file_name, f"`records: {table.records}`: no key {key!r}")
        records = records[key]
    if not isinstance(records, list):
        keys = f" with keys {sorted(records)}" if isinstance(records, dict) else ""
        raise FileParseError(
            file_name,
            f"expected a list of records, found a JSON {type(records).__name__}{keys}"
            + ("" if table.records else ": set `records` to the key that holds them"),
        )
    for start in range(0, len(records), CHUNK_ROWS):
        batch = records[start : start + CHUNK_ROWS]
        yield [_record(value, file_name, start + i) for i, value in enumerate(batch, start=1)]


def _record(value: Any, file_name: str, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FileParseError(file_name, f"record {line} is a {type(value).__name__}, not an object")
    return {**value, FILE_NAME_COLUMN: file_name, FILE_LINE_COLUMN: line}


def _parquet(raw: IO[bytes], _: str, __: FileTable, file_name: str) -> Iterator[Rows]:
    """Batches of rows, native types kept; a row's line is its position in the file."""
    position = 0
    try:
        for batch in parquet.ParquetFile(raw).iter_batches(batch_size=CHUNK_ROWS):
            rows = batch.to_pylist()
            for row in rows:
                position += 1
                row[FILE_NAME_COLUMN], row[FILE_LINE_COLUMN] = file_name, position
            yield rows
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise FileParseError(file_name, f"not a readable Parquet file: {exc}") from None


_PARSERS: dict[str, Parser] = {
    "csv": _delimited,
    "tsv": _delimited,
    "excel": _excel,
    "json": _json,
    "jsonl": _json_lines,
    "parquet": _parquet,
}
