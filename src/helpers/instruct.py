"""Instruction datasets opened up: loaders, prompt templates, statistics, duplicates.

Templates
---------
Prompt templates are data (``data/instruct/templates/*.json``), never strings in code.
``render(record, name)`` returns ``(prompt, answer)``: ``prompt + answer`` is the exact
text the model sees, and only ``answer`` carries the loss (the prompt is masked).
``render_conversation(turns, "vicuna_v1_1")`` does the same for multi-turn chats and
returns :class:`Segment` objects with a ``loss`` flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from helpers import env

__all__ = [
    "Segment", "templates", "template", "render", "render_marked", "render_conversation",
    "conversation_text",
]


def instruct_dir() -> Path:
    """``data/instruct`` (our samples, templates, source registry)."""
    return env.data_path("instruct")


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

_TEMPLATE_KEYS_SINGLE = ("prompt_input", "prompt_no_input", "answer_format", "response_split",
                         "eos", "source", "description", "kind")
_TEMPLATE_KEYS_CONV = _TEMPLATE_KEYS_SINGLE + ("system", "roles", "sep", "sep2")


@lru_cache(maxsize=None)
def _template_files() -> dict[str, Path]:
    folder = instruct_dir() / "templates"
    return {p.stem: p for p in sorted(folder.glob("*.json"))}


@lru_cache(maxsize=None)
def _read_template(path: str) -> dict:
    p = Path(path)
    try:
        t = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: line {e.lineno}: not valid JSON ({e.msg})") from e
    need = _TEMPLATE_KEYS_CONV if t.get("kind") == "conversation" else _TEMPLATE_KEYS_SINGLE
    for key in need:
        if key not in t:
            raise ValueError(f"{p}: field {key!r} missing (template needs {', '.join(need)})")
    if "{output}" not in t["answer_format"]:
        raise ValueError(f"{p}: field 'answer_format' must contain '{{output}}'")
    if t.get("name", p.stem) != p.stem:
        raise ValueError(f"{p}: field 'name' is {t['name']!r} but the file is {p.stem!r}")
    t["name"] = p.stem
    return t


def template(name: str) -> dict:
    """One prompt template as a dict (a copy; editing it changes nothing on disk)."""
    files = _template_files()
    if name not in files:
        raise KeyError(f"unknown template {name!r}; known: {', '.join(files)}")
    return dict(_read_template(str(files[name])))


def templates():
    """All templates as a DataFrame (name, kind, description, source, note)."""
    import pandas as pd

    rows = []
    for name in _template_files():
        t = template(name)
        rows.append({k: t.get(k, "") for k in ("name", "kind", "description", "source", "note")})
    return pd.DataFrame(rows)


def _get(record: Mapping[str, Any], key: str) -> str:
    v = record.get(key, "")
    if v is None:
        return ""
    try:  # pandas NA / NaN
        if v != v:
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)


def render(record: Mapping[str, Any], template_name: str = "stanford_alpaca",
           eos_token: str | None = None) -> tuple[str, str]:
    """Return ``(prompt, answer)`` for one record.

    ``prompt + answer`` is the exact training text. ``answer`` is the part that carries
    the loss. Where the template's ``eos`` is true and ``eos_token`` is given, the answer
    ends with it (the Stanford/KoAlpaca scripts append ``tokenizer.eos_token``); templates
    whose separator already is an end marker (Vicuna's ``</s>``) have ``eos: false``.
    The ``*_input`` variant is used when the record's ``input`` is non-empty after strip.
    """
    t = template(template_name)
    if "instruction" not in record:
        raise KeyError(f"record has no 'instruction' field (fields: {sorted(record)})")
    instruction = _get(record, "instruction")
    inp = _get(record, "input")
    fmt = t["prompt_input"] if inp.strip() else t["prompt_no_input"]
    prompt = fmt.replace("{instruction}", instruction).replace("{input}", inp)
    answer = t["answer_format"].replace("{output}", _get(record, "output"))
    if t["eos"] and eos_token:
        answer += eos_token
    return prompt, answer


def render_marked(record: Mapping[str, Any], template_name: str = "stanford_alpaca",
                  eos_token: str | None = None, marks: tuple[str, str] = ("⟦", "⟧")) -> str:
    """The training text with the loss-carrying part between ``marks``."""
    prompt, answer = render(record, template_name, eos_token)
    return f"{prompt}{marks[0]}{answer}{marks[1]}"


@dataclass(frozen=True)
class Segment:
    """A piece of a rendered conversation; ``loss`` says whether it is trained on."""
    text: str
    loss: bool
    role: str  # "system", "user" or "assistant"


def _turn(turn: Any, i: int) -> tuple[str, str]:
    if isinstance(turn, Mapping):
        role = turn.get("role", turn.get("from"))
        text = turn.get("text", turn.get("content", turn.get("value")))
    else:
        role, text = turn
    role = {"prompter": "user", "human": "user", "gpt": "assistant"}.get(role, role)
    if role not in ("user", "assistant"):
        raise ValueError(f"turn {i}: field 'role' is {role!r}; expected user/prompter/human "
                         "or assistant/gpt")
    if not isinstance(text, str):
        raise ValueError(f"turn {i}: field 'text' must be a string, got {type(text).__name__}")
    return role, text


def render_conversation(turns: Sequence[Any], template_name: str = "vicuna_v1_1",
                        system: str | None = None) -> list[Segment]:
    """Render a multi-turn conversation into segments, FastChat ``ADD_COLON_TWO`` style.

    ``turns`` alternate user/assistant, starting with the user (dicts with ``role`` and
    ``text``/``content``, or ``(role, text)`` pairs; OASST's ``prompter`` counts as user).
    A trailing user turn yields an open ``"ASSISTANT:"`` for generation. Each assistant
    reply with its closing ``sep2`` carries the loss; everything else is masked.
    ``"".join(s.text for s in segments)`` is the exact model input.
    """
    t = template(template_name)
    if t["kind"] != "conversation":
        raise ValueError(f"template {template_name!r} is kind {t['kind']!r}, "
                         "not a conversation template")
    roles = t["roles"]
    parsed = [_turn(x, i) for i, x in enumerate(turns)]
    for i, (role, _) in enumerate(parsed):
        want = "user" if i % 2 == 0 else "assistant"
        if role != want:
            raise ValueError(f"turn {i}: field 'role' is {role!r}; turns must alternate "
                             f"user/assistant starting with user (expected {want!r})")
    sys_text = t["system"] if system is None else system
    segs = [Segment(sys_text + t["sep"], False, "system")]
    pending = ""
    for role, text in parsed:
        if role == "user":
            pending += f"{roles['user']}: {text}{t['sep']}{roles['assistant']}:"
        else:
            segs.append(Segment(pending, False, "user"))
            pending = ""
            segs.append(Segment(f" {text}{t['sep2']}", True, "assistant"))
    if pending:
        segs.append(Segment(pending, False, "user"))
    return segs


def conversation_text(segments: Iterable[Segment], marks: tuple[str, str] | None = None) -> str:
    """Join segments; with ``marks`` the loss-carrying ones are wrapped for display."""
    out = []
    for s in segments:
        out.append(f"{marks[0]}{s.text}{marks[1]}" if (marks and s.loss) else s.text)
    return "".join(out)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

SCHEMAS = ("alpaca", "koalpaca_v1_1", "self_instruct", "dolly", "oasst1")
DOLLY_CATEGORIES = ("open_qa", "general_qa", "classification", "closed_qa", "brainstorming",
                    "information_extraction", "summarization", "creative_writing")
_STR = (str,)
_OPT_STR = (str, type(None))
_FIELDS: dict[str, dict[str, tuple]] = {
    "alpaca": {"instruction": _STR, "input": _STR, "output": _STR},
    "koalpaca_v1_1": {"instruction": _STR, "output": _STR, "url": _STR},
    "self_instruct": {"id": _STR, "name": _STR, "instruction": _STR, "instances": (list,),
                      "is_classification": (bool,)},
    "dolly": {"instruction": _STR, "context": _STR, "response": _STR, "category": _STR},
    "oasst1": {"message_id": _STR, "parent_id": _OPT_STR, "text": _STR, "role": _STR,
               "lang": _STR, "message_tree_id": _STR},
}


class InstructFormatError(ValueError):
    """A record does not fit its schema; names the file, the line/record and the field."""

    def __init__(self, file: str, where: str, field: str | None, message: str):
        self.file, self.where, self.field, self.message = str(file), where, field, message
        f = f"field {field!r}: " if field else ""
        super().__init__(f"{file}: {where}: {f}{message}")


@dataclass
class LoadReport:
    """What :func:`load` read, and every record it skipped (only with ``skip_errors=True``)."""
    file: str
    schema: str
    records: int = 0
    rows: int = 0
    skipped: list = None

    def __post_init__(self):
        self.skipped = [] if self.skipped is None else self.skipped

    def __str__(self) -> str:
        s = f"{self.file}: schema {self.schema}, {self.records} records -> {self.rows} rows"
        if self.skipped:
            s += f", {len(self.skipped)} skipped:\n" + "\n".join(f"  {e}" for e in self.skipped)
        return s


def _iter_json_array(text: str, file: str):
    """Yield ``(index, line, obj)`` for each element of a top-level JSON array."""
    dec = json.JSONDecoder()
    n = len(text)
    i = 0
    line = 1

    def skip_ws(j: int) -> int:
        while j < n and text[j] in " \t\r\n":
            j += 1
        return j

    i = skip_ws(i)
    if i >= n or text[i] != "[":
        raise InstructFormatError(file, "line 1", None, "expected a JSON array of records")
    i = skip_ws(i + 1)
    idx = 0
    last = 0
    if i < n and text[i] == "]":
        return
    while True:
        line += text.count("\n", last, i)
        last = i
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise InstructFormatError(file, f"record {idx} (line {e.lineno}, column {e.colno})",
                                      None, f"not valid JSON: {e.msg}") from None
        yield idx, line, obj
        idx += 1
        i = skip_ws(end)
        if i < n and text[i] == ",":
            i = skip_ws(i + 1)
            continue
        if i < n and text[i] == "]":
            return
        ln = line + text.count("\n", last, i)
        raise InstructFormatError(file, f"record {idx} (line {ln})", None,
                                  "expected ',' or ']' between records")


def _read_records(path: Path):
    """Yield ``(where, obj)`` from a JSON array, JSONL or Parquet file."""
    file = str(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pandas as pd

        for i, rec in enumerate(pd.read_parquet(path).to_dict("records")):
            yield f"row {i}", rec
        return
    text = path.read_text(encoding="utf-8")
    if suffix == ".jsonl" or (suffix != ".json" and not text.lstrip().startswith("[")):
        for ln, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                yield f"line {ln}", json.loads(raw)
            except json.JSONDecodeError as e:
                raise InstructFormatError(file, f"line {ln}, column {e.colno}", None,
                                          f"not valid JSON: {e.msg}") from None
        return
    for idx, ln, obj in _iter_json_array(text, file):
        yield f"record {idx} (line {ln})", obj


def detect_schema(record: Mapping[str, Any], file: str = "<records>", where: str = "record 0") -> str:
    """Guess the schema from one record's keys."""
    if not isinstance(record, Mapping):
        raise InstructFormatError(file, where, None,
                                  f"expected a JSON object, got {type(record).__name__}")
    k = set(record)
    if {"instances", "is_classification"} <= k:
        return "self_instruct"
    if {"message_id", "parent_id"} <= k:
        return "oasst1"
    if {"context", "response", "category"} <= k:
        return "dolly"
    if {"instruction", "output", "url"} <= k and "input" not in k:
        return "koalpaca_v1_1"
    if {"instruction", "output"} <= k:
        return "alpaca"
    raise InstructFormatError(file, where, None, f"cannot tell the schema from fields {sorted(k)}; "
                              f"pass schema= one of {', '.join(SCHEMAS)}")


def _check(rec: Any, schema: str, file: str, where: str) -> None:
    if not isinstance(rec, Mapping):
        raise InstructFormatError(file, where, None, f"expected a JSON object, got {type(rec).__name__}")
    for field, types in _FIELDS[schema].items():
        if field not in rec:
            raise InstructFormatError(file, where, field, f"missing (schema {schema} needs "
                                      f"{', '.join(_FIELDS[schema])})")
        v = rec[field]
        if hasattr(v, "tolist") and not isinstance(v, str):  # numpy arrays from parquet
            v = v.tolist()
        if not isinstance(v, types):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise InstructFormatError(file, where, field, f"expected {want}, got "
                                      f"{type(v).__name__} {str(v)[:40]!r}")
    if schema == "self_instruct":
        inst = rec["instances"]
        inst = inst.tolist() if hasattr(inst, "tolist") else inst
        if not inst:
            raise InstructFormatError(file, where, "instances", "empty list")
        for j, it in enumerate(inst):
            for f in ("input", "output"):
                if not isinstance(it, Mapping) or not isinstance(it.get(f), str):
                    raise InstructFormatError(file, where, f"instances[{j}].{f}", "expected a string")
    if schema == "dolly" and rec["category"] not in DOLLY_CATEGORIES:
        raise InstructFormatError(file, where, "category", f"{rec['category']!r} is not one of "
                                  f"{', '.join(DOLLY_CATEGORIES)}")
    if schema == "oasst1" and rec["role"] not in ("prompter", "assistant"):
        raise InstructFormatError(file, where, "role", f"{rec['role']!r}; expected prompter or assistant")


def _normalize(recs: list[tuple[str, dict]], schema: str, file: str, report: LoadReport,
               skip_errors: bool):
    import pandas as pd

    rows: list[dict] = []
    if schema == "oasst1":
        return _oasst_pairs(recs, file, report, skip_errors)
    for where, r in recs:
        src = {"src_where": where}
        if schema == "alpaca":
            rows.append({"instruction": r["instruction"], "input": r["input"], "output": r["output"],
                         **{k: v for k, v in r.items() if k not in ("instruction", "input", "output")}, **src})
        elif schema == "koalpaca_v1_1":
            rows.append({"instruction": r["instruction"], "input": "", "output": r["output"],
                         **{k: v for k, v in r.items() if k not in ("instruction", "output")}, **src})
        elif schema == "dolly":
            rows.append({"instruction": r["instruction"], "input": r["context"], "output": r["response"],
                         "category": r["category"], **src})
        elif schema == "self_instruct":
            inst = r["instances"].tolist() if hasattr(r["instances"], "tolist") else r["instances"]
            for j, it in enumerate(inst):
                rows.append({"instruction": r["instruction"], "input": it["input"], "output": it["output"],
                             "id": r["id"], "name": r["name"], "is_classification": r["is_classification"],
                             "instance": j, **src})
    df = pd.DataFrame(rows, columns=None if rows else ["instruction", "input", "output", "src_where"])
    return df


def _oasst_pairs(recs, file, report, skip_errors):
    """OASST1 flat messages -> one row per (prompter message, assistant reply)."""
    import pandas as pd

    by_id = {r["message_id"]: (where, r) for where, r in recs}
    rows = []
    for where, r in recs:
        if r["parent_id"] is not None and r["parent_id"] not in by_id:
            err = InstructFormatError(file, where, "parent_id", f"{r['parent_id']!r} is not a message_id "
                                      "in this file")
            if not skip_errors:
                raise err
            report.skipped.append(str(err))
            continue
        if r["role"] != "assistant" or r["parent_id"] is None:
            continue
        pw, parent = by_id[r["parent_id"]]
        depth, p = 0, r
        while p["parent_id"] is not None and p["parent_id"] in by_id:
            p = by_id[p["parent_id"]][1]
            depth += 1
        rows.append({"instruction": parent["text"], "input": "", "output": r["text"], "lang": r["lang"],
                     "rank": r.get("rank"), "message_tree_id": r["message_tree_id"],
                     "message_id": r["message_id"], "parent_id": r["parent_id"], "depth": depth,
                     "src_where": where})
    return pd.DataFrame(rows)


@lru_cache(maxsize=None)
def _sources() -> dict:
    import yaml

    return yaml.safe_load((instruct_dir() / "sources.yaml").read_text(encoding="utf-8"))


def sources():
    """Known dataset names with their sample file, hub source, pinned revision and note."""
    import pandas as pd

    return pd.DataFrame([{"name": k, **v} for k, v in _sources().items()])


def _profile(profile: str | None) -> str:
    p = env.profile(profile)
    return p


def _records_from_real(name: str, spec: dict, revision: str | None):
    rev = revision or spec.get("revision")
    if not rev:
        raise ValueError(f"{name}: no pinned revision is recorded in data/instruct/sources.yaml; "
                         f"pass revision='<commit sha>' (we never load an unpinned 'main')")
    import datasets

    if spec.get("hub"):
        ds = datasets.load_dataset(spec["hub"], revision=rev, split="train")
        label = f"hub:{spec['hub']}@{rev}"
    else:
        url = spec["url"].format(revision=rev)
        ds = datasets.load_dataset("json", data_files=url, split="train")
        label = url
    return label, [(f"record {i}", r) for i, r in enumerate(ds)]


def load(source: str | Path, schema: str | None = None, *, profile: str | None = None,
         revision: str | None = None, skip_errors: bool = False):
    """Load an instruction dataset into one normalized DataFrame.

    ``source`` is a file (JSON array, JSONL or Parquet) or a known name (see
    :func:`sources`): in the tiny profile a name reads our sample in ``data/instruct``,
    in the real profile the same name reads the real dataset from the hub at its pinned
    revision. The schema is detected from the first record unless given.

    Columns: ``instruction``, ``input``, ``output`` (Dolly's ``context``/``response`` and
    OASST's prompter/assistant texts are mapped onto them), then the source's own fields,
    then ``src_where`` (line or record of the source). Malformed records raise
    :class:`InstructFormatError`; with ``skip_errors=True`` they are skipped and listed in
    ``df.attrs["load_report"]`` (a :class:`LoadReport`, always present).
    """
    label, recs, default_schema = _resolve(source, profile, revision)
    schema = schema or default_schema
    if schema is None:
        if not recs:
            raise InstructFormatError(label, "record 0", None, "file has no records; pass schema=")
        schema = detect_schema(recs[0][1], label, recs[0][0])
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; expected one of {', '.join(SCHEMAS)}")
    report = LoadReport(label, schema, records=len(recs))
    good = []
    for where, r in recs:
        try:
            _check(r, schema, label, where)
        except InstructFormatError as e:
            if not skip_errors:
                raise
            report.skipped.append(str(e))
            continue
        good.append((where, r))
    df = _normalize(good, schema, label, report, skip_errors)
    report.rows = len(df)
    df.attrs["load_report"] = report
    df.attrs["schema"] = schema
    df.attrs["source"] = label
    return df


def _resolve(source, profile, revision):
    """``(label, [(where, record)], schema or None)`` for a file or a known name."""
    src = str(source)
    known = _sources()
    if src in known and not Path(src).exists():
        spec = known[src]
        if profile == "real" and not (revision or spec.get("revision")):
            _records_from_real(src, spec, revision)  # raises: unpinned
        if _profile(profile) == "real":
            label, recs = _records_from_real(src, spec, revision)
        else:
            path = instruct_dir() / spec["sample"]
            label, recs = str(path), list(_read_records(path))
        return label, recs, spec["schema"]
    path = Path(src)
    if not path.exists():
        raise FileNotFoundError(f"{src}: no such file, and not a known dataset name "
                                f"({', '.join(known)})")
    return str(path), list(_read_records(path)), None


def oasst_threads(source: str | Path = "oasst1", *, best_only: bool = True, profile: str | None = None,
                  revision: str | None = None) -> list[list[dict]]:
    """OASST1 trees as conversations (lists of ``{"role", "text"}``) for the Vicuna renderer.

    From each root prompt follow the best-ranked reply (lowest ``rank``) and the first
    prompter follow-up, so one tree gives one thread; ``best_only=False`` gives every
    root-to-leaf path. Roots without any reply give no thread.
    """
    label, recs, _ = _resolve(source, profile, revision)
    for where, r in recs:
        _check(r, "oasst1", label, where)
    kids: dict[Any, list[dict]] = {}
    for _, r in recs:
        kids.setdefault(r["parent_id"], []).append(r)

    def order(rs):
        return sorted(rs, key=lambda r: (r.get("rank") is None, r.get("rank") or 0))

    threads: list[list[dict]] = []

    def walk(msg: dict, acc: list[dict]):
        role = "user" if msg["role"] == "prompter" else "assistant"
        acc = acc + [{"role": role, "text": msg["text"]}]
        nxt = order(kids.get(msg["message_id"], []))
        if not nxt:
            if role == "assistant":
                threads.append(acc)
            elif len(acc) > 1:
                threads.append(acc[:-1])
            return
        for child in (nxt[:1] if best_only else nxt):
            walk(child, acc)

    for root in kids.get(None, []):
        if root["role"] == "prompter":
            walk(root, [])
    return threads


# ---------------------------------------------------------------------------
# ROUGE-L and near-duplicates
# ---------------------------------------------------------------------------
import re as _re  # noqa: E402

_WORD = _re.compile(r"\w+")


def rouge_tokens(text: str) -> list[str]:
    """Lower-cased ``\\w+`` tokens (Unicode-aware, so Hangul words survive).

    rouge-score's default tokenizer keeps only ``[a-z0-9]``, which would erase Korean;
    for ASCII text the two agree.
    """
    return _WORD.findall(text.lower())


def rouge_l(a: str | Sequence[str], b: str | Sequence[str]) -> float:
    """ROUGE-L F1 between two texts (or token lists), the textbook LCS table.

    ``F = 2 * LCS / (len(a) + len(b))`` — precision and recall are LCS/len, and their
    harmonic mean reduces to this. Kept deliberately plain; :func:`near_duplicates` uses
    the bit-parallel :func:`lcs_length` instead.
    """
    x = rouge_tokens(a) if isinstance(a, str) else list(a)
    y = rouge_tokens(b) if isinstance(b, str) else list(b)
    if not x or not y:
        return 0.0
    prev = [0] * (len(y) + 1)
    for xi in x:
        cur = [0]
        for j, yj in enumerate(y):
            cur.append(prev[j] + 1 if xi == yj else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    return 2 * lcs / (len(x) + len(y))


def _masks(x: Sequence[str]) -> dict[str, int]:
    m: dict[str, int] = {}
    for i, t in enumerate(x):
        m[t] = m.get(t, 0) | (1 << i)
    return m


def lcs_length(x: Sequence[str], y: Sequence[str], masks: dict[str, int] | None = None) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyrö 2004).

    One machine-word-like step per token of ``y``: ``V = (V + (V & M)) | (V & ~M)`` over
    Python ints; the LCS is the number of zero bits left in the low ``len(x)`` bits.
    """
    m = len(x)
    if not m or not y:
        return 0
    masks = masks if masks is not None else _masks(x)
    full = (1 << m) - 1
    v = full
    for t in y:
        mt = masks.get(t)
        if mt:
            u = v & mt
            v = ((v + u) | (v - u)) & full
    return m - bin(v).count("1")


@dataclass
class Duplicates:
    """Result of :func:`near_duplicates`."""
    pairs: Any          # DataFrame i, j (row positions, i < j), rouge_l
    dup_of: Any         # Series: for each row, the first earlier row it duplicates (or -1)
    candidates: int     # candidate pairs scored after blocking
    all_pairs: int      # pairs a brute-force scan would score
    exact_groups: int   # groups of identical token sequences

    @property
    def n_duplicate_rows(self) -> int:
        return int((self.dup_of >= 0).sum())


def near_duplicates(texts: Sequence[str], threshold: float = 0.7, method: str = "auto",
                    seed: int = 0) -> Duplicates:
    """All pairs with ROUGE-L F1 >= ``threshold`` (self-instruct's filter uses 0.7).

    1. identical token sequences are grouped (score 1.0, no comparison needed);
    2. blocking: ``F >= t`` needs ``min(m, n) / max(m, n) >= t / (2 - t)`` (length filter)
       and a multiset overlap ``>= t (m + n) / 2``; a rare-first *prefix filter* over an
       inverted index finds every pair that can reach that overlap, so no pair is lost;
    3. candidates pass a cheap overlap bound, then the exact LCS is computed.

    ``method="prefix"`` is exact (finds every pair). On large, small-vocabulary data its
    candidate lists grow quadratically, so ``"minhash"`` blocks with MinHash LSH instead
    (24 bands x 4 rows on the tagged token sets; a pair at the weakest admissible Jaccard
    0.54 becomes a candidate with probability about 0.88, at 0.7 about 0.999), then scores
    candidates exactly. ``"auto"`` uses prefix up to 5,000 distinct texts.
    """
    import math

    import pandas as pd

    toks = [rouge_tokens(t or "") for t in texts]
    first: dict[tuple, int] = {}
    rep_of = [-1] * len(toks)
    uniq: list[int] = []
    for i, t in enumerate(toks):
        key = tuple(t)
        if key in first:
            rep_of[i] = first[key]
        else:
            first[key] = i
            if t:
                uniq.append(i)
    pairs_i, pairs_j, scores = [], [], []
    for i, r in enumerate(rep_of):
        if r >= 0 and toks[i]:
            pairs_i.append(r)
            pairs_j.append(i)
            scores.append(1.0)
    exact_groups = len({r for r in rep_of if r >= 0})

    # tagged multisets: ("word", k) for the k-th occurrence
    tagged = {}
    freq: dict[tuple, int] = {}
    for i in uniq:
        seen: dict[str, int] = {}
        items = []
        for w in toks[i]:
            k = seen.get(w, 0)
            seen[w] = k + 1
            items.append((w, k))
        tagged[i] = items
        for it in items:
            freq[it] = freq.get(it, 0) + 1
    rank = {it: r for r, it in enumerate(sorted(freq, key=lambda it: (freq[it], it)))}
    ratio = threshold / (2 - threshold)
    if method == "auto":
        method = "prefix" if len(uniq) <= 5000 else "minhash"
    if method == "minhash":
        cand = _minhash_candidates(uniq, tagged, rank, seed)
        sets = {i: {rank[it] for it in tagged[i]} for i in uniq}
        masks_m: dict[int, dict] = {}
        for i, j in cand:
            m, n = len(toks[i]), len(toks[j])
            if min(m, n) < ratio * max(m, n) - 1e-9:
                continue
            ov = len(sets[i] & sets[j])
            if 2 * ov < threshold * (m + n) - 1e-9:
                continue
            mj = masks_m.get(j)
            if mj is None:
                mj = masks_m[j] = _masks(toks[j])
            f = 2 * lcs_length(toks[j], toks[i], mj) / (m + n)
            if f >= threshold - 1e-12:
                pairs_i.append(min(i, j))
                pairs_j.append(max(i, j))
                scores.append(f)
        return _dup_result(pairs_i, pairs_j, scores, len(toks), len(cand), len(uniq), exact_groups)
    if method != "prefix":
        raise ValueError(f"method must be auto, prefix or minhash, not {method!r}")
    order = sorted(uniq, key=lambda i: len(toks[i]))
    index: dict[int, list[int]] = {}
    sets: dict[int, set] = {}
    masks: dict[int, dict] = {}
    candidates = 0
    for i in order:
        m = len(toks[i])
        ids = sorted(rank[it] for it in tagged[i])
        sets[i] = set(ids)
        n_min = math.ceil(ratio * m - 1e-9)
        o_min = math.ceil(threshold * (m + n_min) / 2 - 1e-9)
        plen = max(1, m - o_min + 1)
        seen_c: set[int] = set()
        for tok_id in ids[:plen]:
            for j in index.get(tok_id, ()):
                if j in seen_c:
                    continue
                seen_c.add(j)
                n = len(toks[j])
                if n < ratio * m - 1e-9:
                    continue
                candidates += 1
                ov = len(sets[i] & sets[j])
                if 2 * ov < threshold * (m + n) - 1e-9:
                    continue
                mj = masks.get(j)
                if mj is None:
                    mj = masks[j] = _masks(toks[j])
                lcs = lcs_length(toks[j], toks[i], mj)
                f = 2 * lcs / (m + n)
                if f >= threshold - 1e-12:
                    a, b = (i, j) if i < j else (j, i)
                    pairs_i.append(a)
                    pairs_j.append(b)
                    scores.append(f)
        for tok_id in ids[:plen]:
            index.setdefault(tok_id, []).append(i)
    return _dup_result(pairs_i, pairs_j, scores, len(toks), candidates, len(uniq), exact_groups)


def _dup_result(pairs_i, pairs_j, scores, n_rows, candidates, n_uniq, exact_groups) -> Duplicates:
    import pandas as pd

    pairs = pd.DataFrame({"i": pairs_i, "j": pairs_j, "rouge_l": scores})
    pairs = pairs.sort_values(["i", "j"], ignore_index=True)
    dup_of = pd.Series(-1, index=range(n_rows), dtype="int64")
    if len(pairs):
        firsts = pairs.groupby("j")["i"].min()
        dup_of.loc[firsts.index] = firsts.values
    return Duplicates(pairs, dup_of, candidates, n_uniq * (n_uniq - 1) // 2, exact_groups)


def _minhash_candidates(uniq, tagged, rank, seed, bands: int = 24, rows: int = 4) -> list[tuple[int, int]]:
    """Candidate pairs from MinHash LSH over the tagged token sets (numpy)."""
    import numpy as np

    lens = np.array([len(tagged[i]) for i in uniq])
    flat = np.fromiter((rank[it] for i in uniq for it in tagged[i]), dtype=np.uint64, count=int(lens.sum()))
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    rng = np.random.default_rng(seed)
    prime = np.uint64((1 << 31) - 1)
    k = bands * rows
    a = rng.integers(1, (1 << 31) - 1, k, dtype=np.uint64)
    b = rng.integers(0, (1 << 31) - 1, k, dtype=np.uint64)
    sig = np.empty((len(uniq), k), dtype=np.uint64)
    for h in range(k):
        sig[:, h] = np.minimum.reduceat((a[h] * flat + b[h]) % prime, starts)
    ids = np.array(uniq)
    cand: set[tuple[int, int]] = set()
    for band in range(bands):
        block = np.ascontiguousarray(sig[:, band * rows:(band + 1) * rows])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        cut = np.flatnonzero(sk[1:] != sk[:-1]) + 1
        for grp in np.split(order, cut):
            if len(grp) < 2:
                continue
            g = sorted(ids[grp].tolist())
            for x in range(len(g)):
                for y in range(x + 1, len(g)):
                    cand.add((g[x], g[y]))
    return sorted(cand)


# ---------------------------------------------------------------------------
# Instruction diversity: leading verbs (English) and main predicates (Korean)
# ---------------------------------------------------------------------------
_HANGUL = _re.compile(r"[가-힣]")
_LATIN_WORD = _re.compile(r"[A-Za-z]+")
_EN_FILLERS = {"please", "kindly", "now", "also", "then", "just", "so"}
_EN_QUESTION = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are",
                "was", "were", "do", "does", "did", "can", "could", "would", "should", "will",
                "shall", "may", "might", "has", "have", "had", "if", "in", "on", "at", "based"}
_EN_SKIP = {"a", "an", "the", "this", "these", "that", "those", "some", "any", "following", "given",
            "me", "us", "my", "your", "our", "one", "two", "three", "four", "five", "ten", "short",
            "simple", "new", "quick", "brief", "good", "list", "of", "to", "for", "in", "with",
            "and", "or", "each", "every", "all", "more", "few", "several", "everyday", "first"}


def lang_of(text: str) -> str:
    """``"ko"`` when Hangul makes up at least 30 % of the letters, else ``"en"``."""
    h = len(_HANGUL.findall(text))
    latin = sum(len(w) for w in _LATIN_WORD.findall(text))
    return "ko" if h and h >= 0.3 * (h + latin) else "en"


def english_verb(instruction: str) -> tuple[str, str]:
    """``(verb, object)`` of an English instruction by a documented heuristic.

    Imperatives start with their verb ("Summarize the text" -> summarize/text): skip
    fillers ("please"), take the first word as the verb and the next word that is not a
    determiner, number or filler adjective as its object. Questions ("What is ...",
    "Is the ...") get verb ``"(question)"`` and the question word as object. The
    self-instruct paper used a full constituency parser (Berkeley Neural Parser); this is
    a cheap stand-in that misreads e.g. "Name" used as a noun.
    """
    words = [w.lower() for w in _LATIN_WORD.findall(instruction)]
    while words and words[0] in _EN_FILLERS:
        words = words[1:]
    if not words:
        return "(none)", ""
    if words[0] in _EN_QUESTION:
        return "(question)", words[0]
    obj = next((w for w in words[1:] if w not in _EN_SKIP and len(w) > 1), "")
    return words[0], obj


_KIWI = None


def _kiwi():
    global _KIWI
    if _KIWI is None:
        from kiwipiepy import Kiwi

        _KIWI = Kiwi()
    return _KIWI


_KO_TAIL = 4
_PRED = ("VV", "VA", "XSV", "XSA", "VCP", "VCN")
_NOUN = ("NNG", "NNP", "NP", "NR", "XR", "SL", "SN")


def _korean_from_tokens(tokens) -> tuple[str, str]:
    toks = list(tokens)
    p = None
    for k in range(len(toks) - 1, -1, -1):
        if toks[k].tag.split("-")[0] in _PRED:
            p = k
            break
    if p is None:
        return "(none)", ""
    t = toks[p]
    tag = t.tag.split("-")[0]
    if tag in ("XSV", "XSA") and p > 0 and toks[p - 1].tag.split("-")[0] in _NOUN:
        verb = toks[p - 1].form + t.form + "다"
        start = p - 1
    elif tag in ("VCP", "VCN"):
        verb = "이다" if tag == "VCP" else "아니다"
        start = p
    else:
        verb = t.form + "다"
        start = p
    obj = ""
    for k in range(start - 1, -1, -1):
        if toks[k].tag == "JKO":
            for q in range(k - 1, -1, -1):
                if toks[q].tag.split("-")[0] in _NOUN:
                    obj = toks[q].form
                    break
            break
    if not obj and start > 0 and toks[start - 1].tag.split("-")[0] in _NOUN:
        obj = toks[start - 1].form
    return verb, obj


def korean_predicate(instruction: str) -> tuple[str, str]:
    """``(predicate, object)`` of a Korean instruction with kiwipiepy.

    Korean is head-final, so the main predicate is the last verb/adjective/copula morpheme
    (auxiliaries such as 주다 in "설명해 주세요" are skipped). Noun + 하다 verbs are kept
    whole ("번역하다"). The object is the noun before the last object marker (을/를).
    """
    return _korean_from_tokens(_kiwi().tokenize(instruction))


def instruction_verbs(instructions: Sequence[str]):
    """DataFrame ``lang, verb, object`` for each instruction (Korean ones batched through Kiwi)."""
    import pandas as pd

    uniq = list(dict.fromkeys(instructions))
    langs = {u: lang_of(u) for u in uniq}
    out: dict[str, tuple[str, str]] = {}
    ko = [u for u in uniq if langs[u] == "ko"]
    if ko:
        # Korean is head-final: the main predicate and its object sit in the last few
        # eojeols, so only those are analysed (and identical tails are analysed once).
        tails = {u: " ".join(u.split()[-_KO_TAIL:]) for u in ko}
        utails = list(dict.fromkeys(tails.values()))
        got = dict(zip(utails, (_korean_from_tokens(t) for t in _kiwi().tokenize(utails))))
        for u in ko:
            out[u] = got[tails[u]]
    for u in uniq:
        if langs[u] == "en":
            out[u] = english_verb(u)
    return pd.DataFrame([(langs[x], *out[x]) for x in instructions], columns=["lang", "verb", "object"])


# ---------------------------------------------------------------------------
# Quality and translation-artifact flags
# ---------------------------------------------------------------------------
_MARKUP = _re.compile(r"#/|\\n|&[a-z]+;|</?[a-zA-Z]+>|\[\[|\]\]")
_EN_FUNCTION = {"the", "a", "an", "about", "of", "to", "for", "with", "and", "or", "in", "on", "is",
                "are", "following", "sentence", "write", "given"}


def untranslated_english(text: str) -> bool:
    """In Korean data: a field that is mostly English (3+ Latin words and under 20 % Hangul
    letters) or Korean text with English function words mixed in ("트윗을 작성하세요 about ...")."""
    words = _LATIN_WORD.findall(text)
    if not words:
        return False
    h = len(_HANGUL.findall(text))
    latin = sum(len(w) for w in words)
    if len(words) >= 3 and h < 0.2 * (h + latin):
        return True
    return h > 0 and any(w.lower() in _EN_FUNCTION for w in words)


def quality_flags(df, *, short_chars: int = 8, lang: str | None = None):
    """Boolean flags per row: empty_input, empty_output, short_output, stray_markup,
    untranslated (only for Korean data), echo (output repeats the instruction)."""
    import pandas as pd

    ins = df["instruction"].fillna("").astype(str)
    inp = df["input"].fillna("").astype(str) if "input" in df else pd.Series("", index=df.index)
    out = df["output"].fillna("").astype(str)
    lang = lang or _majority_lang(ins)
    flags = pd.DataFrame(index=df.index)
    flags["empty_input"] = inp.str.strip().eq("")
    flags["empty_output"] = out.str.strip().eq("")
    flags["short_output"] = out.str.strip().str.len().lt(short_chars) & ~flags["empty_output"]
    flags["stray_markup"] = (ins + "\n" + inp + "\n" + out).str.contains(_MARKUP)
    if lang == "ko":
        flags["untranslated"] = [untranslated_english(a) or untranslated_english(b)
                                 for a, b in zip(ins, inp)]
    else:
        flags["untranslated"] = False
    flags["echo"] = out.str.strip().str.lower().eq(ins.str.strip().str.lower()) & ~flags["empty_output"]
    return flags


def _majority_lang(texts) -> str:
    sample = list(texts[:500]) if hasattr(texts, "__getitem__") else list(texts)[:500]
    ko = sum(lang_of(t) == "ko" for t in sample)
    return "ko" if ko * 2 >= max(1, len(sample)) else "en"


# ---------------------------------------------------------------------------
# The whole report
# ---------------------------------------------------------------------------
def token_lengths(texts: Sequence[str], tokenizer) -> list[int]:
    """Token counts without special tokens, batched: a ``tokenizers.Tokenizer`` or any
    transformers tokenizer (fast ones are much quicker)."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    if hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "batch_decode"):
        return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    enc = tokenizer(texts, add_special_tokens=False)
    return [len(x) for x in enc["input_ids"]]


@dataclass
class Anatomy:
    """Everything :func:`anatomy` measured about one dataset."""
    name: str
    lang: str
    counts: dict
    lengths: Any        # per row: chars_*, tokens_* (when a tokenizer was given)
    verbs: Any          # per row: lang, verb, object
    duplicates: Duplicates
    flags: Any          # per row booleans (+ near_duplicate)
    seconds: dict

    def verb_counts(self, top: int = 20, per_verb: int = 4):
        """The ``top`` verbs and their ``per_verb`` most common objects (the sunburst data)."""
        v = self.verbs[self.verbs["verb"] != "(none)"]
        top_verbs = v["verb"].value_counts().head(top).index
        sub = v[v["verb"].isin(top_verbs)]
        c = sub.groupby(["verb", "object"]).size().rename("n").reset_index()
        c = c.sort_values(["verb", "n"], ascending=[True, False]).groupby("verb").head(per_verb)
        return c.reset_index(drop=True)

    def length_summary(self):
        return self.lengths.describe(percentiles=[0.1, 0.5, 0.9]).T[
            ["mean", "10%", "50%", "90%", "max"]].round(1)

    def summary(self):
        """One column of headline numbers."""
        import pandas as pd

        s = dict(self.counts)
        s["empty_input_share"] = round(float(self.flags["empty_input"].mean()), 3)
        for col in ("chars_output", "tokens_output"):
            if col in self.lengths:
                s[f"median_{col}"] = float(self.lengths[col].median())
        s["near_duplicate_rows"] = self.duplicates.n_duplicate_rows
        for f in ("short_output", "stray_markup", "untranslated", "empty_output"):
            s[f"flag_{f}"] = int(self.flags[f].sum())
        s["distinct_verbs"] = int(self.verbs["verb"].nunique())
        return pd.Series(s, name=self.name)


def anatomy(df, tokenizer=None, *, name: str | None = None, dup_field: str = "instruction",
            threshold: float = 0.7, short_chars: int = 8, verbs: bool = True) -> Anatomy:
    """The whole report: counts, empty inputs, lengths (characters, and tokens of
    ``tokenizer`` if given), verbs/predicates, ROUGE-L near-duplicates on ``dup_field``
    and quality flags. ``seconds`` records the time of each stage."""
    import time

    import pandas as pd

    for col in ("instruction", "output"):
        if col not in df:
            raise KeyError(f"anatomy needs column {col!r}; got {list(df.columns)} (use load())")
    t0 = time.perf_counter()
    sec: dict[str, float] = {}
    df = df.reset_index(drop=True)
    if "input" not in df:
        df = df.assign(input="")
    fields = ("instruction", "input", "output")
    texts = {f: df[f].fillna("").astype(str).tolist() for f in fields}
    lang = _majority_lang(texts["instruction"])
    lengths = pd.DataFrame({f"chars_{f}": [len(t) for t in texts[f]] for f in fields})
    sec["chars"] = time.perf_counter() - t0
    if tokenizer is not None:
        t = time.perf_counter()
        for f in fields:
            lengths[f"tokens_{f}"] = token_lengths(texts[f], tokenizer)
        sec["tokens"] = time.perf_counter() - t
    t = time.perf_counter()
    vb = instruction_verbs(texts["instruction"]) if verbs else pd.DataFrame(
        {"lang": [lang] * len(df), "verb": "(none)", "object": ""})
    sec["verbs"] = time.perf_counter() - t
    t = time.perf_counter()
    dups = near_duplicates(texts[dup_field], threshold)
    sec["duplicates"] = time.perf_counter() - t
    t = time.perf_counter()
    flags = quality_flags(df, short_chars=short_chars, lang=lang)
    flags["near_duplicate"] = dups.dup_of.values >= 0
    sec["flags"] = time.perf_counter() - t
    counts = {"rows": len(df), "unique_instructions": int(df["instruction"].nunique()),
              "with_input": int((~flags["empty_input"]).sum())}
    sec["total"] = time.perf_counter() - t0
    return Anatomy(name or df.attrs.get("source", "dataset"), lang, counts, lengths, vb, dups, flags, sec)


def compare(*reports: Anatomy):
    """Side-by-side summary of several :class:`Anatomy` reports."""
    import pandas as pd

    return pd.concat([r.summary() for r in reports], axis=1)


def median_gap(a: Anatomy, b: Anatomy, column: str = "chars_output", n_boot: int = 2000,
               seed: int = 0) -> dict:
    """Median of ``column`` in ``b`` minus in ``a`` with a 95 % bootstrap interval."""
    import numpy as np

    x = a.lengths[column].to_numpy()
    y = b.lengths[column].to_numpy()
    rng = np.random.default_rng(seed)
    bx = np.median(rng.choice(x, (n_boot, len(x))), axis=1)
    by = np.median(rng.choice(y, (n_boot, len(y))), axis=1)
    d = by - bx
    return {"column": column, "median_a": float(np.median(x)), "median_b": float(np.median(y)),
            "gap": float(np.median(y) - np.median(x)),
            "ci95": (float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5)))}


def scale(df, n: int, seed: int = 0, swap: float = 0.15):
    """Grow ``df`` to ``n`` rows by deterministic perturbation (for benchmarks).

    The first ``len(df)`` rows are ``df`` itself. Each further row splices the first half
    of one row's instruction (and output) to the second half of another random row's, then
    replaces each word with probability ``swap`` by a word from the same column's
    vocabulary. Lengths, languages and verb/predicate positions stay realistic; a plain
    copy-and-swap would instead make clusters of ~n/len(df) variants of every row, a
    duplicate structure no real dataset has. The same ``seed`` always gives the same frame.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    base = df.reset_index(drop=True)
    nb = len(base)
    idx = np.arange(n) % nb
    other = rng.integers(0, nb, n)
    out = base.iloc[idx].reset_index(drop=True).copy()
    for col in ("instruction", "input", "output"):
        if col not in base:
            continue
        src = [t.split() for t in base[col].fillna("").astype(str)]
        vocab = np.array(sorted({w for ws in src for w in ws}) or [""])
        vals = out[col].astype(str).tolist()
        for k in range(nb, n):
            a, b = src[idx[k]], src[other[k]]
            if col == "input" and not a:
                continue
            words = a[: (len(a) + 1) // 2] + b[(len(b) + 1) // 2:]
            if not words:
                continue
            hit = rng.random(len(words)) < swap
            if hit.any():
                repl = iter(vocab[rng.integers(0, len(vocab), int(hit.sum()))])
                words = [next(repl) if h else w for w, h in zip(words, hit)]
            vals[k] = " ".join(words)
        out[col] = vals
    out.attrs = {**base.attrs, "source": f"{base.attrs.get('source', 'dataset')} scaled to {n}"}
    return pd.DataFrame(out)
