"""What students read in the committed notebooks is clean.

For every notebook in ``notebooks/``:

- no committed output shows a warning, a traceback or error output, or text written to stderr;
- no output or markdown cell shows an absolute path of the machine that ran it (``/root/``, ``/home/``,
  ``/tmp/``, ``/work/``, ``/Users/``, ``site-packages``, ``C:\\Users``);
- nothing (markdown, code, outputs) names a tracker issue ("issue 6", "(issue 13)");
- markdown prose uses none of the terms ``data/glossary.csv`` lists under ``avoid``.

The committed outputs are those ``make run`` writes (the tiny profile), so a warning here is a warning a
student sees; fix it where it comes from (new argument names, a real cause), never by hiding it.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# anchored on the literal word (a leading \w* would crawl through megabytes of inlined JavaScript)
WARNING = re.compile(r"(?<=[A-Za-z])Warning\b|\bWarning:|Traceback \(most recent call last\)")
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:root|home|tmp|work|Users)/|site-packages|[A-Za-z]:\\\\?Users")
ISSUE = re.compile(r"\bissues?\s*#?\s*\d+|이슈\s*#?\s*\d+", re.IGNORECASE)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
TEXT_MIMES = ("text/plain", "text/markdown", "text/html")


def _glossary_avoid() -> dict[str, str]:
    """{term to avoid: the term to use}, from data/glossary.csv."""
    with open(ROOT / "data" / "glossary.csv", encoding="utf-8", newline="") as f:
        return {bad.strip(): row["korean"] for row in csv.DictReader(f)
                for bad in row["avoid"].split(";") if bad.strip()}


def _outputs(cell: dict):
    """(kind, text) for each output of a code cell; kind says where it came from."""
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            yield f"stream {out['name']}", "".join(out["text"])
        elif out["output_type"] == "error":
            yield "error", f"{out['ename']}: {out['evalue']}"
        else:
            for mime in TEXT_MIMES:
                if mime in out.get("data", {}):
                    text = out["data"][mime]
                    yield mime, text if isinstance(text, str) else "".join(text)


def _line(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start: end if end >= 0 else len(text)].strip()[:160]


def problems(nb_path: Path) -> list[str]:
    """Every problem in one notebook, each as '<file> cell N (<where>): <what>: <line>'."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    avoid = _glossary_avoid()
    found = []

    def hit(i, where, what, text, m):
        start = m.start()
        while start and (text[start - 1].isalnum() or text[start - 1] == "_"):  # the whole word: FutureWarning
            start -= 1
        found.append(f"{nb_path.name} cell {i} ({where}): {what} {text[start:m.end()]!r}: {_line(text, m.start())}")

    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        for m in ISSUE.finditer(source):
            hit(i, f"{cell['cell_type']} source", "names a tracker issue", source, m)
        if cell["cell_type"] == "markdown":
            for m in MACHINE_PATH.finditer(source):
                hit(i, "markdown", "machine path", source, m)
            for bad, good in avoid.items():
                pattern = re.escape(bad) if not HANGUL.match(bad) else r"(?<![\uac00-\ud7a3])" + re.escape(bad)
                for m in re.finditer(pattern, source):
                    hit(i, "markdown", f"glossary: use {good!r}, not", source, m)
            continue
        for kind, text in _outputs(cell):
            if kind == "stream stderr":
                found.append(f"{nb_path.name} cell {i}: output on stderr: {text.strip()[:160]!r}")
            if kind == "error":
                found.append(f"{nb_path.name} cell {i}: error output: {text[:160]}")
            for pattern, what in ((WARNING, "warning"), (MACHINE_PATH, "machine path"),
                                  (ISSUE, "names a tracker issue")):
                for m in pattern.finditer(text):
                    hit(i, kind, what, text, m)
    return found


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(nb_path):
    found = problems(nb_path)
    assert not found, "\n".join(found)


def test_the_check_catches_each_kind_of_problem(tmp_path):
    """A notebook with one of each problem: the check names every one (so the test above can fail)."""
    cells = [
        {"cell_type": "markdown", "metadata": {},
         "source": ["## 가중치를 얼리고 (issue 6)\n", "설문 결과, /home/me/x\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["x = 1  # see issue 13\n"],
         "outputs": [
             {"output_type": "stream", "name": "stderr", "text": ["progress\n"]},
             {"output_type": "stream", "name": "stdout",
              "text": ["/work/main/.venv/lib/python3.11/site-packages/t.py:1: FutureWarning: old\n"]},
             {"output_type": "execute_result", "execution_count": 1, "metadata": {},
              "data": {"text/plain": ["saved to /tmp/x/adapter"]}},
             {"output_type": "error", "ename": "ValueError", "evalue": "boom", "traceback": []},
         ]},
        {"cell_type": "markdown", "metadata": {}, "source": ["크로스 엔트로피, 가중치 고정, 서베이, https://x.org/home/a"]},
    ]
    path = tmp_path / "99_bad.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    found = "\n".join(problems(path))
    for expected in ("cell 0 (markdown source): names a tracker issue 'issue 6'", "glossary: use '고정', not '얼리고'",
                     "glossary: use '서베이', not '설문'", "cell 0 (markdown): machine path '/home/'",
                     "cell 1 (code source): names a tracker issue 'issue 13'", "cell 1: output on stderr",
                     "warning 'FutureWarning'", "machine path 'site-packages'", "machine path '/work/'",
                     "cell 1 (text/plain): machine path '/tmp/'", "cell 1: error output: ValueError: boom"):
        assert expected in found, f"{expected!r} not reported:\n{found}"
    assert "cell 2" not in found, found  # 크로스 is not 로스; a URL path is not a machine path


def test_readme_tokenizer_table_is_current():
    """The README's table of Korean tokens per character is what notebook 05 measures (same texts, same code)."""
    from helpers import generate

    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Real tokenizers without the hub")[1]
    rows = {cells[0]: cells for line in table.splitlines() if line.startswith("| ") and "---" not in line
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    texts = generate.prompt_texts()
    standins = generate.load_tokenizers(profile="tiny").values()  # ko, en
    tokenizers = {f"ours, tiny BPE '{k}'": tok for k, tok in zip(("ko", "en"), standins, strict=True)}
    npm = generate.npm_tokenizers()
    fetched = [t for t in npm.values() if (t.folder / "tokenizer.json").is_file()]
    loaded = generate.real_tokenizers([k for k, t in npm.items() if t in fetched]) if fetched else {}
    tokenizers.update({f"{t.model} (`{t.package}` {t.version})": loaded[t.label] for t in fetched})
    eff = generate.token_efficiency(tokenizers, texts)
    not_fetched = [f"(`{t.package}` {t.version})" for t in npm.values() if t not in fetched]  # only these excused
    compared = 0
    for name, cells in rows.items():
        key = next((k for k in tokenizers if name.startswith(k)), None)
        if key is None:
            excused = name == "tokenizer" or any(name.endswith(m) for m in not_fetched)
            assert excused, f"README row {name!r} matches no tokenizer of ours or a fetched one of data/tokenizers.yaml"
            continue
        assert int(cells[3].replace(",", "")) == eff.loc[key, "tokens"], f"README row {name!r}: tokens"
        assert cells[4] == f"{eff.loc[key, 'tokens_per_char']:.3f}", f"README row {name!r}: tokens per character"
        compared += 1
    assert compared >= 2, "no README row was compared"


def test_nothing_users_read_names_a_tracker_issue():
    """README, CONTRIBUTING, data sheets, Makefile, bench scripts, the packages' code and the LoRA CLI's help say
    what a thing is, not which tracker issue asked for it."""
    import contextlib
    import io

    from helpers import lora

    paths = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "Makefile", *sorted((ROOT / "data").rglob("*.md")),
             *sorted((ROOT / "bench").glob("*.py")), *sorted((ROOT / "src").rglob("*.py"))]
    found = [f"{p.relative_to(ROOT)}: {_line(text, m.start())}" for p in paths if p.is_file()
             for text in [p.read_text(encoding="utf-8")] for m in ISSUE.finditer(text)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        lora.main(["--help"])
    for sub in ("train", "memory", "recipes"):
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            lora.main([sub, "--help"])
    helptext = out.getvalue()
    found += [f"python -m helpers.lora --help: {_line(helptext, m.start())}" for m in ISSUE.finditer(helptext)]
    assert "--recipe" in helptext  # the help was read
    assert not found, "\n".join(found)
