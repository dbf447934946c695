"""Tests of helpers.records, the one file reader behind instruct.load, generate.load_prompts and kobest.load_task:
every format and encoding a Korean user's tools write, errors that name file, line/row and field, and a seeded
fuzz test (random bytes, truncated and damaged files, shuffled columns) over each loader."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import pandas as pd
import pytest

from helpers import generate, instruct, kobest, records

ROWS = [{"instruction": "김치찌개 끓이는 법을 알려 주세요.", "input": "",
         "output": "김치와 돼지고기를 볶은 뒤 물을 붓고 끓입니다."},
        {"instruction": "다음 문장을 영어로 옮기세요.", "input": "오늘은 비가 온다.", "output": "It rains today."},
        {"instruction": "숫자를 세 개 적으세요.", "input": "", "output": "1, 2, 3"}]


def write(path: Path, rows: list[dict], encoding: str = "utf-8", **kw) -> Path:
    """``rows`` in the format of ``path``'s suffix (text formats in ``encoding``)."""
    df = pd.DataFrame(rows)
    kind = records.FORMATS[path.suffix]
    if kind == "parquet":
        df.to_parquet(path)
    elif kind == "xlsx":
        df.to_excel(path, index=False, **kw)
    else:
        text = {"csv": lambda: df.to_csv(index=False, **kw), "tsv": lambda: df.to_csv(index=False, sep="\t", **kw),
                "json": lambda: json.dumps(rows, ensure_ascii=False, indent=1),
                "jsonl": lambda: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)}[kind]()
        path.write_bytes(text.encode(encoding))
    return path


def texts(df) -> list:
    return df[["instruction", "input", "output"]].values.tolist()


# --------------------------------------------------------------------------- formats, encodings, line ends
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet", ".xlsx"])
def test_every_format_loads_the_same_records(tmp_path, suffix):
    df = instruct.load(write(tmp_path / f"mine{suffix}", ROWS))
    assert df.attrs["schema"] == "alpaca" and texts(df) == texts(pd.DataFrame(ROWS))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl"])
def test_utf8_bom_crlf_and_utf16(tmp_path, suffix):
    want = texts(pd.DataFrame(ROWS))
    for encoding in ("utf-8-sig", "utf-16"):  # Excel's "CSV UTF-8" and "Unicode text"
        p = write(tmp_path / f"{encoding}{suffix}", ROWS, encoding)
        assert texts(instruct.load(p)) == want
    crlf = tmp_path / f"crlf{suffix}"
    crlf.write_bytes((tmp_path / f"utf-8-sig{suffix}").read_bytes().replace(b"\n", b"\r\n"))
    assert texts(instruct.load(crlf)) == want


def test_json_array_with_a_bom_is_an_array(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(ROWS, ensure_ascii=False).encode())
    assert len(instruct.load(p)) == 3


def test_quoted_cells_keep_commas_quotes_and_line_breaks(tmp_path):
    p = tmp_path / "q.csv"
    p.write_bytes('instruction,input,output\r\n"쉼표, 따옴표 ""예""",,"두 줄\r\n답"\r\n'.encode())
    row = instruct.load(p).iloc[0]
    assert (row["instruction"], row["output"], row["src_where"]) == ('쉼표, 따옴표 "예"', "두 줄\n답", "line 2")


def test_cp949_is_read_with_a_warning_that_says_how_to_convert(tmp_path):
    for suffix in (".csv", ".jsonl"):
        p = write(tmp_path / f"windows{suffix}", ROWS, "cp949")
        with pytest.warns(records.NotUTF8Warning, match=r"CP949 \(EUC-KR\).*iconv -f cp949 -t utf-8") as w:
            df = instruct.load(p)
        assert texts(df) == texts(pd.DataFrame(ROWS)) and str(p) in str(w[0].message)


def test_other_encodings_stop_with_offset_line_and_a_guess(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("instruction,input,output\nDécrivez un café.,,Un café est un lieu où l'on boit.\n".encode("latin-1"))
    with pytest.raises(instruct.InstructFormatError, match=r"latin.csv: byte 26 \(line 2\): expected UTF-8 text, "
                                                           r"found byte 0xe9 .*not CP949/EUC-KR.*guesses"):
        instruct.load(p)


def test_xlsx_sheet_by_name_or_first(tmp_path):
    p = tmp_path / "book.xlsx"
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame(ROWS[:1]).to_excel(xw, sheet_name="첫 시트", index=False)
        pd.DataFrame(ROWS).assign(input=[1, 2.5, None]).to_excel(xw, sheet_name="data", index=False)
    assert len(instruct.load(p)) == 1
    df = instruct.load(p, sheet="data")
    assert df["input"].tolist() == ["1", "2.5", ""] and df["src_where"].tolist()[0] == "sheet 'data', row 2"
    with pytest.raises(instruct.InstructFormatError, match=r"book.xlsx: expected a sheet named 'x', "
                                                           r"found '첫 시트', 'data'"):
        instruct.load(p, sheet="x")
    with pytest.raises(instruct.InstructFormatError, match=r"applies to .xlsx files only"):
        instruct.load(write(tmp_path / "a.csv", ROWS), sheet="data")


def test_table_errors_name_line_and_what_was_found(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("instruction,input,output\n하나,,답\n둘,입력,답,남는 칸\n셋,,답,,\n", encoding="utf-8")
    with pytest.raises(instruct.InstructFormatError, match=r"ragged.csv: line 3: expected 3 cells \(instruction, "
                                                           r"input, output\), found 4"):
        instruct.load(p)
    with pytest.warns(records.SkippedRecordsWarning, match=r"skipped 1 of 3 records") as w:
        df = instruct.load(p, skip_errors=True)
    assert df["src_where"].tolist() == ["line 2", "line 4"]  # empty trailing cells are no data
    assert "line 3: expected 3 cells" in str(w[0].message) and df.attrs["load_report"].skipped[0].endswith("found 4")
    p.write_text("instruction,output,output\n a,b,c\n", encoding="utf-8")
    with pytest.raises(instruct.InstructFormatError, match=r"line 1: expected a header row of distinct column names"):
        instruct.load(p)
    p.write_text("질문,답\n뭐야?,이거\n", encoding="utf-8")
    with pytest.raises(instruct.InstructFormatError, match=r"line 2: cannot tell the schema from fields "
                                                           r"\['답', '질문'\]"):
        instruct.load(p)


def test_jsonl_bad_lines_are_named_and_skippable(tmp_path):
    p = tmp_path / "x.jsonl"
    last = json.dumps({**ROWS[1], "output": "줄\u2028바꿈"}, ensure_ascii=False)  # U+2028 is no line end in JSON
    p.write_text(json.dumps(ROWS[0]) + "\r\n{broken\r\n\r\n" + last + "\r\n", encoding="utf-8")
    with pytest.raises(instruct.InstructFormatError, match=r"x.jsonl: line 2, column 2: expected one JSON record per "
                                                           r"line, found text that is not valid JSON"):
        instruct.load(p)
    with pytest.warns(records.SkippedRecordsWarning, match=r"skipped 1 of 3 records"):
        assert instruct.load(p, skip_errors=True)["src_where"].tolist() == ["line 1", "line 4"]


def test_suffix_or_content_decides_the_format(tmp_path):
    p = tmp_path / "data.txt"
    p.write_text(json.dumps(ROWS), encoding="utf-8")
    assert len(instruct.load(p)) == 3
    p.write_text("instruction,input,output\n", encoding="utf-8")
    with pytest.raises(instruct.InstructFormatError, match=r"data.txt: line 1: expected one of .csv, .tsv"):
        instruct.load(p)


def test_record_error_parts():
    e = records.RecordError("f.csv", "line 3", "label", "expected an integer, found 'x'")
    assert str(e) == "f.csv: line 3: field 'label': expected an integer, found 'x'" and e.field == "label"
    assert str(records.RecordError("a whole message")) == "a whole message"


# --------------------------------------------------------------------------- fuzz: each loader, each format
def _loaders(tmp_path):
    """(name, loader's error class, valid rows, load(path)) for the three loaders; a loader's file is named as it
    wants (KoBEST: <dir>/<split>.<suffix>)."""
    prompts = generate.load_prompts().head(3).to_dict("records")
    copa = kobest.load_task("copa", kobest.samples_dir()).split("train")[:3]
    return [("instruct", instruct.InstructFormatError, ROWS, instruct.load),
            ("prompts", generate.PromptFileError, prompts, generate.load_prompts),
            ("kobest", kobest.KoBESTDataError, copa, lambda p: kobest.load_task("copa", p.parent))]


def _damaged(rng: random.Random, data: bytes) -> list[bytes]:
    """Random bytes, truncations and byte flips of ``data``."""
    out = [rng.randbytes(rng.randint(0, 200)) for _ in range(3)]
    out += [data[:rng.randint(0, len(data))] for _ in range(4)]
    for _ in range(4):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        out.append(bytes(b))
    return out


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet", ".xlsx"])
def test_fuzz_every_loader_loads_or_raises_its_own_error_naming_the_file(tmp_path, suffix):
    rng = random.Random(f"records-fuzz{suffix}")
    for name, error, rows, load in _loaders(tmp_path):
        folder = tmp_path / name
        folder.mkdir()
        valid = write(folder / f"train{suffix}", rows)
        good = load(valid)
        cols = list(rows[0])
        rng.shuffle(cols)  # shuffled columns (and keys) load the same rows
        write(valid, [{k: r[k] for k in cols} for r in rows])
        assert _same(load(valid), good), (name, suffix)
        data = valid.read_bytes()
        for case, damaged in enumerate(_damaged(rng, data)):
            valid.write_bytes(damaged)
            for skip in (False,) if name == "kobest" else (False, True):  # kobest's loader has no skip
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", (records.NotUTF8Warning, records.SkippedRecordsWarning))
                        if name == "kobest":
                            load(valid)
                        else:
                            load(valid, skip_errors=skip)
                except error as e:  # anything else (UnicodeDecodeError, KeyError, IndexError, ...) fails the test
                    assert valid.name in str(e), (name, suffix, case, str(e))


def _same(a, b) -> bool:
    if isinstance(a, kobest.KoBESTTask):
        return a.splits == b.splits
    return a.drop(columns="src_where", errors="ignore").equals(b.drop(columns="src_where", errors="ignore"))
