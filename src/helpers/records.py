"""One reader for every loader's files (:func:`read`): CSV, TSV, JSON arrays, JSON Lines, Parquet, XLSX as ``(where,
record)`` pairs; UTF-8 (BOM or not), UTF-16 with a BOM or CP949/EUC-KR (a warning says how to convert it), any line
ends. Each problem is the loader's own :class:`RecordError`: file, line or row, field, what was expected and found."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".xlsx": "xlsx"}


class RecordError(ValueError):
    """A problem in a data file, as ``file: where: field 'x': message``; with one argument, that whole message."""

    def __init__(self, file: Any, where: str = "", field: str | None = None, message: str = ""):
        self.file, self.where, self.field, self.message = str(file), where, field, message
        super().__init__(": ".join(p for p in (self.file, where, field and f"field {field!r}", message) if p))


class NotUTF8Warning(UserWarning):
    """A text file was not UTF-8 and was read as CP949 (EUC-KR)."""


class SkippedRecordsWarning(UserWarning):
    """A ``skip_errors=True`` load left records out; the message lists each one."""


@dataclass
class LoadReport:
    """What a loader read: ``records`` in the file, ``rows`` in the result, the error of each record ``skipped``.
    :meth:`skip` raises an error, or (``skip_errors``) notes it; :meth:`done` warns with every skipped record."""
    file: str
    skip_errors: bool = False
    records: int = 0
    rows: int = 0
    skipped: list[str] = field(default_factory=list)

    def skip(self, error: Exception) -> None:
        if not self.skip_errors:
            raise error
        self.skipped.append(str(error))

    def done(self, rows: int) -> LoadReport:
        if self.skipped:
            warnings.warn(f"{self.file}: skipped {len(self.skipped)} of {self.records} records "
                          "(skip_errors=True):\n" + "\n".join(self.skipped), SkippedRecordsWarning, stacklevel=3)
        self.rows = rows
        return self


def decode(data: bytes, file: Any, error: type[RecordError] = RecordError) -> str:
    """A file's text: UTF-8 (BOM or not), UTF-16 with a BOM, or CP949 (charset-normalizer's guess) with a warning."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        bad, start = e, e.start + bom
    from charset_normalizer import from_bytes

    where, guess = f"byte {start} (line {data.count(10, 0, start) + 1})", from_bytes(data).best()  # 10: newline
    if guess and guess.encoding in ("cp949", "euc_kr"):
        name = Path(str(file)).name
        warnings.warn(f"{file}: not UTF-8 (first at {where}); read as CP949 (EUC-KR), the Korean Windows "
                      f"encoding. Convert it once: `iconv -f cp949 -t utf-8 {name} > utf8-{name}` (or save it "
                      "as 'CSV UTF-8' in Excel)", NotUTF8Warning, stacklevel=4)
        return data.decode("cp949")  # a superset of EUC-KR
    likely = f"charset-normalizer guesses {guess.encoding}" if guess else "no text encoding fits (binary data?)"
    raise error(file, where, None, f"expected UTF-8 text, found byte {data[start]:#04x} ({bad.reason}); not "
                f"CP949/EUC-KR either; {likely}. Save it as UTF-8 (e.g. `iconv -f <encoding> -t utf-8`)")


def read(path: str | Path, error: type[RecordError] = RecordError, *, sheet: str | None = None,
         types: Mapping[str, type] | None = None, skip: Callable[[Exception], None] | None = None) -> list:
    """``[(where, record)]`` from one file, its format by suffix (:data:`FORMATS`; else ``[`` starts a JSON array,
    ``{`` JSON Lines, as in a ``.json`` file that starts with ``{``). ``sheet``: the XLSX sheet (default: the first).
    ``types``: column types for tables (CSV, TSV, XLSX): ``str`` makes numbers text and empty cells ``""``, ``int``
    parses whole numbers. ``skip`` gets the error of each bad JSON line or table row (default: raise it)."""
    path, file, kind = Path(path), str(path), FORMATS.get(Path(path).suffix.lower())
    fail = lambda where, message: error(file, where, None, message)
    skip = skip or LoadReport(file).skip  # raises
    if sheet is not None and kind != "xlsx":
        raise fail("", f"sheet={sheet!r} applies to .xlsx files only")
    if kind == "parquet":
        try:  # its lists arrive as numpy arrays; a damaged string column fails only when read
            return [(f"row {i}", {k: v.tolist() if hasattr(v, "tolist") else v for k, v in rec.items()})
                    for i, rec in enumerate(pd.read_parquet(path).to_dict("records"))]
        except Exception as e:  # noqa: BLE001 - pyarrow raises many kinds; name the file
            raise fail("", f"expected a Parquet file, found unreadable data ({type(e).__name__}: {e})") from None
    if kind == "xlsx":
        return _table(_xlsx_rows(path, sheet, fail), fail, skip, types)
    text = decode(path.read_bytes(), file, error).replace("\r\n", "\n")  # CRLF, also inside quoted cells
    start = text.lstrip()[:1]
    kind = kind or {"[": "json", "{": "jsonl"}.get(start)
    if kind in ("csv", "tsv"):
        return _table(_csv_rows(text, "," if kind == "csv" else "\t", kind, fail), fail, skip, types)
    if kind == "json" and start != "{":
        return list(_json_array(text, fail))
    whole = None
    with contextlib.suppress(ValueError, RecursionError):  # one object over several lines is not JSON Lines
        whole = json.loads(text) if kind == "json" and "\n" in text.strip() else None
    if isinstance(whole, dict):
        raise fail("line 1", "expected a JSON array of records (or one record per line), found one JSON object "
                   f"with fields {sorted(whole)[:8]}: are the records under one of them?")
    if kind is None:
        raise fail("line 1", f"expected one of {', '.join(FORMATS)} by its suffix, or JSON text; found {start!r}")
    out = []
    for no, line in enumerate(text.split("\n"), 1):  # not splitlines(): JSON strings may hold U+2028
        if line.strip():
            try:
                out.append((f"line {no}", json.loads(line)))
            except (ValueError, RecursionError) as e:
                skip(fail(f"line {no}, column {getattr(e, 'colno', '?')}", "expected one JSON record per line, "
                          f"found text that is not valid JSON: {getattr(e, 'msg', e)}"))
    return out


def _json_array(text: str, fail):
    """Each element of a JSON array, read one at a time (``raw_decode``): records and errors name index and line."""
    decoder, space = json.JSONDecoder(), json.decoder.WHITESPACE  # json's own whitespace regex
    index, line, counted, pos = 0, 1, 0, space.match(text).end()
    if not text.startswith("[", pos):
        raise fail("line 1", f"expected a JSON array of records, found {text[pos:pos + 20]!r}")
    pos = space.match(text, pos + 1).end()
    while not text.startswith("]", pos):
        if index and not text.startswith(",", pos):
            raise fail(f"record {index} (line {line + text.count(chr(10), counted, pos)})",
                       f"expected ',' or ']', found {text[pos:pos + 20]!r}")
        pos = space.match(text, pos + 1).end() if index else pos
        line, counted = line + text.count("\n", counted, pos), pos
        try:
            record, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as e:
            raise fail(f"record {index} (line {getattr(e, 'lineno', line)}, column {getattr(e, 'colno', '?')})",
                       f"not valid JSON: {getattr(e, 'msg', e)}") from None
        yield f"record {index} (line {line})", record
        index, pos = index + 1, space.match(text, pos).end()


def _csv_rows(text: str, delimiter: str, kind: str, fail):
    """``(where, cells)`` per record, named by its first line (a quoted cell may span lines)."""
    reader, start = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 1
    try:
        for cells in reader:
            yield f"line {start}", cells
            start = reader.line_num + 1
    except csv.Error as e:
        raise fail(f"line {reader.line_num}", f"not valid {kind.upper()}: {e}") from None


def _xlsx_rows(path: Path, sheet: str | None, fail) -> list:
    """``(where, cells)`` per row of one sheet (``sheet 'name', row n`` as Excel numbers rows)."""
    import openpyxl

    try:
        with contextlib.closing(openpyxl.load_workbook(path, read_only=True, data_only=True)) as book:
            names, ws = book.sheetnames, book[sheet] if sheet in book.sheetnames else book.worksheets[0]
            rows = [(f"sheet {ws.title!r}, row {n}", list(c)) for n, c in enumerate(ws.iter_rows(values_only=True), 1)]
    except Exception as e:  # noqa: BLE001 - zip, XML and openpyxl errors alike: name the file
        raise fail("", f"expected an XLSX workbook, found unreadable data ({type(e).__name__}: {e})") from None
    if sheet is not None and sheet not in names:
        raise fail("", f"expected a sheet named {sheet!r}, found {', '.join(map(repr, names))}")
    return rows


def _table(rows: Iterable, fail, skip, types: Mapping[str, type] | None) -> list:
    """Records from a header row and data rows; empty rows (and trailing empty cells) are passed over, a row with
    more or fewer cells than the header goes to ``skip``."""
    empty = lambda c: c is None or (isinstance(c, str) and not c.strip())
    header, out = None, []
    for where, cells in rows:
        while cells and empty(cells[-1]) and (header is None or len(cells) > len(header)):
            cells = cells[:-1]
        if all(map(empty, cells)):
            continue
        if header is None:
            header = [str(c).strip() if c is not None else "" for c in cells]
            if not all(header) or len(set(header)) < len(header):
                raise fail(where, f"expected a header row of distinct column names, found {header}")
        elif len(cells) != len(header):
            skip(fail(where, f"expected {len(header)} cells ({', '.join(header)}), found {len(cells)}"))
        else:
            rec = dict(zip(header, cells))
            for name, v in rec.items():
                if (kind := (types or {}).get(name)) is str and not isinstance(v, str):
                    rec[name] = "" if v is None else str(v)
                elif kind is int and isinstance(v, (str, float)):  # "1" or 1.0 -> 1; else left for the loader
                    with contextlib.suppress(ValueError, OverflowError):
                        rec[name] = int(v) if isinstance(v, str) or v.is_integer() else v
            out.append((where, rec))
    if header is None:
        raise fail("", "expected a header row (column names), found an empty table")
    return out
