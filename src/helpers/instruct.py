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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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


@cache
def _template_files() -> dict[str, Path]:
    folder = instruct_dir() / "templates"
    return {p.stem: p for p in sorted(folder.glob("*.json"))}


@cache
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


@cache
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
    candidates: int     # pairs the blocking proposed (prefix: distinct; minhash: summed over bands)
    all_pairs: int      # pairs a brute-force scan of the distinct texts would score
    exact_groups: int   # groups of identical token sequences (short-circuited, never scored)
    method: str = "prefix"
    scored: int = 0             # candidates that passed the length/overlap bounds and got an exact LCS
    capped_buckets: int = 0     # LSH buckets larger than ``cap`` (paired by length window only)

    @property
    def n_duplicate_rows(self) -> int:
        return int((self.dup_of >= 0).sum())


def jaccard_floor(threshold: float) -> float:
    """Smallest Jaccard similarity of the tagged token multisets of two texts whose
    ROUGE-L F1 reaches ``threshold``: ``t / (2 - t)`` (0.538 for 0.7).

    ``F = 2 L / (m + n) >= t`` and the multiset overlap ``O >= L`` give
    ``J = O / (m + n - O) >= (t/2) / (1 - t/2)``.
    """
    return threshold / (2 - threshold)


def lsh_recall(jaccard: float, bands: int, rows: int) -> float:
    """Probability that MinHash LSH with ``bands`` x ``rows`` proposes a pair of this Jaccard."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


def near_duplicates(texts: Sequence[str], threshold: float = 0.7, method: str = "auto",
                    seed: int = 0, bands: int = 48, rows: int = 3, cap: int = 64) -> Duplicates:
    """All pairs with ROUGE-L F1 >= ``threshold`` (self-instruct's filter uses 0.7).

    1. **Exact duplicates short-circuit**: texts with identical token sequences are grouped
       (score 1.0) and only one representative of each group goes on.
    2. **Blocking** proposes candidate pairs; two blockers share the same bounds
       (``F >= t`` needs lengths within ``t / (2 - t)`` of each other and a multiset overlap
       ``>= t (m + n) / 2``, i.e. a tagged-token Jaccard ``>= t / (2 - t)``):

       * ``"prefix"`` — exact: a rare-first prefix filter over an inverted index finds every
         pair that can reach the overlap (no pair lost), but its candidate lists grow fast
         on large data full of common words;
       * ``"minhash"`` — MinHash LSH over tagged word unigrams (``("the", 0)``,
         ``("the", 1)`` for a second "the"): ``bands`` x ``rows`` hashes, rows of a band
         hashed together, texts that agree on a whole band share a bucket. A pair at the
         weakest admissible Jaccard (0.538 for t = 0.7) is proposed with probability
         ``lsh_recall(0.538, 48, 3)`` ~ 0.9997; typical near-duplicates sit far above it.
         Buckets larger than ``cap`` (common openings such as "Write a") are sorted by length
         and each member is paired with its ``cap - 1`` nearest-length neighbours only.
    3. **Exact scoring**: candidates pass the length and overlap bounds (vectorized /
       set intersection), then the exact LCS (bit-parallel :func:`lcs_length`).

    ``"auto"`` uses prefix up to 2,000 distinct texts and minhash above.
    """
    toks = [rouge_tokens(t) if isinstance(t, str) else [] for t in texts]
    first: dict[tuple, int] = {}
    rep_of = [-1] * len(toks)
    uniq: list[int] = []
    pairs_i: list[int] = []
    pairs_j: list[int] = []
    scores: list[float] = []
    for i, t in enumerate(toks):
        key = tuple(t)
        r = first.get(key)
        if r is not None:
            rep_of[i] = r
            if t:
                pairs_i.append(r)
                pairs_j.append(i)
                scores.append(1.0)
        else:
            first[key] = i
            if t:
                uniq.append(i)
    exact_groups = len({r for r, i in zip(rep_of, range(len(toks))) if r >= 0 and toks[i]})

    # tagged multisets as integer ids: the k-th occurrence of a word is its own item
    vocab: dict = {}
    tagged: list[list[int]] = []
    for i in uniq:
        seen: dict[str, int] = {}
        ids = []
        for w in toks[i]:
            k = seen.get(w, 0)
            seen[w] = k + 1
            key = w if k == 0 else (w, k)
            v = vocab.get(key)
            if v is None:
                v = vocab[key] = len(vocab)
            ids.append(v)
        tagged.append(ids)
    if method == "auto":
        method = "prefix" if len(uniq) <= 2000 else "minhash"
    bound = _Bounds(tagged, threshold)
    if method == "prefix":
        cand_u = _prefix_candidates(tagged, len(vocab), threshold)
        n_cand, capped = len(cand_u), 0
        cand_u = cand_u[bound.keep(cand_u[:, 0], cand_u[:, 1])]
    elif method == "minhash":
        cand_u, n_cand, capped = _minhash_candidates(tagged, len(vocab), seed, bands, rows, cap, bound)
    else:
        raise ValueError(f"method must be auto, prefix or minhash, not {method!r}")
    scored = 0
    masks: dict[int, dict] = {}
    for x, y in cand_u.tolist():
        tx, ty = toks[uniq[x]], toks[uniq[y]]
        mx = masks.get(x)
        if mx is None:
            mx = masks[x] = _masks(tx)
        scored += 1
        f = 2 * lcs_length(tx, ty, mx) / (len(tx) + len(ty))
        if f >= threshold - 1e-12:
            i, j = uniq[x], uniq[y]
            pairs_i.append(min(i, j))
            pairs_j.append(max(i, j))
            scores.append(f)
    d = _dup_result(pairs_i, pairs_j, scores, len(toks), n_cand, len(uniq), exact_groups)
    d.method, d.scored, d.capped_buckets = method, scored, capped
    return d


def _prefix_candidates(tagged: list[list[int]], n_vocab: int, threshold: float):
    """Exact candidate pairs ``(x, y)``, ``x < y`` (positions in ``tagged``), by a rare-first
    prefix filter: a pair with overlap ``>= o`` shares a token among the first
    ``len - o + 1`` rarest tokens of each side."""
    import math

    import numpy as np

    freq = np.zeros(n_vocab, dtype=np.int64)
    for ids in tagged:
        freq[ids] += 1
    rank = np.empty(n_vocab, dtype=np.int64)
    rank[np.lexsort((np.arange(n_vocab), freq))] = np.arange(n_vocab)
    ratio = jaccard_floor(threshold)
    order = sorted(range(len(tagged)), key=lambda x: len(tagged[x]))
    index: dict[int, list[int]] = {}
    out: set[tuple[int, int]] = set()
    for x in order:
        m = len(tagged[x])
        ids = sorted(rank[tagged[x]].tolist())
        n_min = math.ceil(ratio * m - 1e-9)
        o_min = math.ceil(threshold * (m + n_min) / 2 - 1e-9)
        plen = max(1, m - o_min + 1)
        for tok in ids[:plen]:
            for y in index.get(tok, ()):
                out.add((y, x) if y < x else (x, y))
        for tok in ids[:plen]:
            index.setdefault(tok, []).append(x)
    arr = np.array(sorted(out), dtype=np.int64).reshape(-1, 2)
    return arr


class _Bounds:
    """Vectorized necessary conditions for ``ROUGE-L F1 >= t`` (no true pair fails them).

    * lengths: ``min(m, n) >= t / (2 - t) * max(m, n)``;
    * overlap: the multiset overlap must reach ``t (m + n) / 2``. Each text carries a
      512-bit set of its hashed tagged tokens; a bit of ``A`` absent from ``B`` proves at
      least one token of ``A`` is not in ``B``, so ``overlap <= m - popcount(A & ~B)``
      (a safe upper bound: hash collisions can only loosen it).
    """

    WORDS = 8

    def __init__(self, tagged: list[list[int]], threshold: float):
        import numpy as np

        self.t = threshold
        n = len(tagged)
        self.lens = np.fromiter((len(x) for x in tagged), dtype=np.int64, count=n)
        flat = np.fromiter((v for x in tagged for v in x), dtype=np.uint64, count=int(self.lens.sum()))
        owner = np.repeat(np.arange(n), self.lens)
        bit = (flat * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - 9)  # 0..511
        bits = np.zeros((n, self.WORDS), dtype=np.uint64)
        np.bitwise_or.at(bits, (owner, (bit >> np.uint64(6)).astype(np.int64)),
                         np.uint64(1) << (bit & np.uint64(63)))
        self.bits = bits
        self.word = np.bitwise_or.reduce(bits, axis=1)  # the same tokens folded into 64 bits

    def _ub_ok(self, ba, bb, la, lb):
        import numpy as np

        if ba.ndim == 1:
            only_a, only_b = np.bitwise_count(ba & ~bb), np.bitwise_count(bb & ~ba)
        else:
            only_a = np.bitwise_count(ba & ~bb).sum(axis=1, dtype=np.int64)
            only_b = np.bitwise_count(bb & ~ba).sum(axis=1, dtype=np.int64)
        ub = np.minimum(la - only_a, lb - only_b)
        return 2 * ub >= self.t * (la + lb) - 1e-9

    def keep(self, a, b):
        """Boolean mask: which pairs ``(a[k], b[k])`` can still reach the threshold."""
        import numpy as np

        la, lb = self.lens[a], self.lens[b]
        idx = np.flatnonzero(np.minimum(la, lb) >= jaccard_floor(self.t) * np.maximum(la, lb) - 1e-9)
        # the 64-bit fold first (cheap, looser), then the 512-bit sets for the survivors
        idx = idx[self._ub_ok(self.word[a[idx]], self.word[b[idx]], la[idx], lb[idx])]
        idx = idx[self._ub_ok(self.bits[a[idx]], self.bits[b[idx]], la[idx], lb[idx])]
        out = np.zeros(len(a), dtype=bool)
        out[idx] = True
        return out


def _minhash_candidates(tagged: list[list[int]], n_vocab: int, seed: int, bands: int, rows: int,
                        cap: int, bound: _Bounds):
    """MinHash LSH candidates (numpy). Returns ``(distinct pairs[k, 2] passing ``bound``,
    proposals (bucket pairs summed over bands), capped buckets)``."""
    import numpy as np

    n = len(tagged)
    lens = bound.lens
    flat = np.fromiter((v for t in tagged for v in t), dtype=np.int64, count=int(lens.sum()))
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 1 << 61, rows, dtype=np.uint64) | np.uint64(1)
    kept = []
    n_prop = capped = 0
    for _band in range(bands):
        # one random value per token and row of the band (a random "permutation"); the
        # text's minimum under each, mixed into one band key
        h = rng.integers(0, 1 << 32, (rows, n_vocab), dtype=np.uint32)
        mins = np.minimum.reduceat(h[:, flat], starts, axis=1).astype(np.uint64)
        key = np.bitwise_xor.reduce(mins * mult[:, None], axis=0)
        order = np.lexsort((lens, key))
        sk = key[order]
        same1 = sk[1:] == sk[:-1]
        member = np.zeros(n, dtype=bool)
        member[:-1] |= same1
        member[1:] |= same1
        order, sk = order[member], sk[member]  # only texts that share their bucket
        if not len(order):
            continue
        brk = np.flatnonzero(sk[1:] != sk[:-1]) + 1
        sizes = np.diff(np.concatenate([[0], brk, [len(sk)]]))
        capped += int((sizes > cap).sum())
        for d in range(1, min(cap, int(sizes.max()))):
            same = np.flatnonzero(sk[d:] == sk[:-d])
            if not len(same):
                break
            x, y = order[same], order[same + d]
            lo, hi = np.minimum(x, y), np.maximum(x, y)
            n_prop += len(lo)
            ok = bound.keep(lo, hi)
            kept.append(lo[ok] * n + hi[ok])
    if not kept:
        return np.empty((0, 2), dtype=np.int64), n_prop, capped
    code = _sorted_unique(np.concatenate(kept))
    return np.stack([code // n, code % n], axis=1), n_prop, capped


def _sorted_unique(x):
    import numpy as np

    if not len(x):
        return x
    x = np.sort(x)
    return x[np.concatenate([[True], x[1:] != x[:-1]])]


def _dup_result(pairs_i, pairs_j, scores, n_rows, candidates, n_uniq, exact_groups) -> Duplicates:
    import numpy as np
    import pandas as pd

    pairs = pd.DataFrame({"i": np.asarray(pairs_i, dtype=np.int64), "j": np.asarray(pairs_j, dtype=np.int64),
                          "rouge_l": np.asarray(scores, dtype=float)})
    pairs = pairs.sort_values(["i", "j"], ignore_index=True)
    dup_of = pd.Series(-1, index=range(n_rows), dtype="int64")
    if len(pairs):
        firsts = pairs.groupby("j")["i"].min()
        dup_of.loc[firsts.index] = firsts.values
    return Duplicates(pairs, dup_of, candidates, n_uniq * (n_uniq - 1) // 2, exact_groups)


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


_KO_TAIL = 3
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


def _kiwi_words(words: list[str]) -> list[list]:
    """Kiwi morphemes of each eojeol in ``words`` (no spaces inside), from ONE call on the
    newline-joined list: Kiwi's per-call overhead dominates for short strings (one call on
    1,000 eojeols is ~15x faster than the list API). Morphemes go back to their eojeol by
    character offset. Kiwi may read neighbouring lines as context (e.g. 주 in a separate
    "주세요" becomes the auxiliary VX); the predicate logic does not depend on that."""
    import bisect

    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    out: list[list] = [[] for _ in words]
    if not words:
        return out
    for tok in _kiwi().tokenize("\n".join(words)):
        out[bisect.bisect_right(starts, tok.start) - 1].append(tok)
    return out


def instruction_verbs(instructions: Sequence[str]):
    """DataFrame ``lang, verb, object`` for each instruction (Korean ones batched through Kiwi)."""
    import pandas as pd

    uniq = list(dict.fromkeys(instructions))
    langs = {u: lang_of(u) for u in uniq}
    out: dict[str, tuple[str, str]] = {}
    ko = [u for u in uniq if langs[u] == "ko"]
    if ko:
        # Korean is head-final: the main predicate and its object sit in the last few
        # eojeols. Each distinct eojeol is analysed once (one batched Kiwi call) and a
        # text's tail is the concatenation of its eojeols' morphemes.
        tails = {u: u.split()[-_KO_TAIL:] for u in ko}
        words = list(dict.fromkeys(w for t in tails.values() for w in t))
        morphs = dict(zip(words, _kiwi_words(words)))
        for u in ko:
            out[u] = _korean_from_tokens([m for w in tails[u] for m in morphs[w]])
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
# GPT-2's pre-tokenizer pattern in Python's ``re`` (\p{L} -> [^\W\d_], \p{N} -> \d); the two
# differ only on numeric characters that are not decimal digits (e.g. "²", "½"), which
# _bytelevel_counts sends to the tokenizer itself.
_BYTELEVEL_SPLIT = _re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def _bytelevel_counts(uniq: list[str], rust) -> list[int] | None:
    """Token counts for a byte-level BPE without normalizer: BPE never merges across
    pre-tokens, so a text's count is the sum of its pre-tokens' counts, and each distinct
    pre-token is encoded once. ``None`` when the tokenizer is not of that kind. Texts with
    added tokens or with non-decimal numerals go through ``rust`` itself, and a sample of
    texts is checked against it (any mismatch: ``None``, the caller encodes everything)."""
    import json as _json

    import numpy as np

    try:
        cfg = _json.loads(rust.to_str())
    except Exception:  # noqa: BLE001 - not a tokenizers.Tokenizer
        return None
    pre = cfg.get("pre_tokenizer") or {}
    if (cfg.get("normalizer") is not None or (cfg.get("model") or {}).get("type") != "BPE"
            or pre.get("type") != "ByteLevel" or not pre.get("use_regex", True)
            or pre.get("add_prefix_space")):
        return None
    enc = getattr(rust, "encode_batch_fast", rust.encode_batch)
    chars = set("".join(uniq))
    odd = {c for c in chars if c.isnumeric() and not c.isdecimal()}
    added = [t["content"] for t in cfg.get("added_tokens", [])]
    risky = [i for i, t in enumerate(uniq)
             if (odd and any(c in t for c in odd)) or any(a in t for a in added)]
    # A pre-token crosses a single space only as its leading " ", so a text without double
    # spaces is the sum over its " "-separated chunks (each after a space gets that space
    # back); chunks repeat a lot, so each distinct chunk is pre-tokenized and encoded once.
    risky += [i for i, t in enumerate(uniq) if "  " in t]
    chunks = [t.split(" ") for t in uniq]
    firsts = set(c[0] for c in chunks)
    spaced = set().union(*[c[1:] for c in chunks]) if chunks else set()
    keys = [("", c) for c in firsts] + [(" ", c) for c in spaced]
    pieces = [_BYTELEVEL_SPLIT.findall(sp + c) for sp, c in keys]
    distinct = list(dict.fromkeys(w for ws in pieces for w in ws))
    n_of = dict(zip(distinct, (len(e) for e in enc(distinct, add_special_tokens=False))))
    chunk_n = {k: sum(n_of[w] for w in ws) for k, ws in zip(keys, pieces)}
    first_n = {c: chunk_n[("", c)] for c in firsts}
    space_n = {c: chunk_n[(" ", c)] for c in spaced}
    counts = [first_n[c[0]] + sum(map(space_n.__getitem__, c[1:])) for c in chunks]
    ends = np.fromiter((len(t) for t in uniq), dtype=np.int64, count=len(uniq))
    if risky:
        for i, e in zip(risky, enc([uniq[i] for i in risky], add_special_tokens=False)):
            counts[i] = len(e)
    check = sorted(set(range(min(64, len(uniq)))) | set(np.argsort(ends)[-64:].tolist()))
    got = [len(e) for e in enc([uniq[i] for i in check], add_special_tokens=False)]
    if any(counts[i] != g for i, g in zip(check, got)):
        return None
    return counts


def token_lengths(texts: Sequence[str], tokenizer) -> list[int]:
    """Token counts without special tokens for a ``tokenizers.Tokenizer`` or any
    transformers tokenizer. Each distinct text is counted once. Byte-level BPE tokenizers
    (GPT-2 style, as the tiny profile's) take a fast exact path (:func:`_bytelevel_counts`:
    each distinct pre-token encoded once; verified against the tokenizer); other fast
    tokenizers use one batched Rust call (``encode_batch_fast``); slow ones ``tokenizer(texts)``."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    uniq = list(dict.fromkeys(texts))
    rust = getattr(tokenizer, "backend_tokenizer", None)
    if rust is None and hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "batch_decode"):
        rust = tokenizer
    counts = None
    if rust is not None:
        counts = _bytelevel_counts(uniq, rust)
        if counts is None:
            enc = getattr(rust, "encode_batch_fast", rust.encode_batch)
            counts = [len(e) for e in enc(uniq, add_special_tokens=False)]
    else:
        counts = [len(x) for x in tokenizer(uniq, add_special_tokens=False)["input_ids"]]
    n_of = dict(zip(uniq, counts))
    return [n_of[t] for t in texts]


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
    seconds: dict       # wall seconds per stage
    stages: Any = None  # DataFrame stage, wall_s, cpu_s, peak_mb (see _StageClock)

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


class _StageClock:
    """Times stages: wall seconds, CPU seconds of the process (all threads) and the peak
    resident memory during the stage (Linux: the high-water mark is reset at each stage
    start through ``/proc/self/clear_refs``; elsewhere the process peak so far)."""

    def __init__(self):
        self.rows: list[dict] = []

    @staticmethod
    def _reset_peak() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _peak_mb() -> float:
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        import resource
        import sys

        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r / 1024 / (1024 if sys.platform == "darwin" else 1)

    def __call__(self, stage: str):
        import contextlib
        import time

        @contextlib.contextmanager
        def run():
            self._reset_peak()
            w, c = time.perf_counter(), time.process_time()
            yield
            self.rows.append({"stage": stage, "wall_s": time.perf_counter() - w,
                              "cpu_s": time.process_time() - c, "peak_mb": self._peak_mb()})
        return run()


def anatomy(df, tokenizer=None, *, name: str | None = None, dup_field: str = "instruction",
            threshold: float = 0.7, short_chars: int = 8, verbs: bool = True) -> Anatomy:
    """The whole report: counts, empty inputs, lengths (characters, and tokens of
    ``tokenizer`` if given), verbs/predicates, ROUGE-L near-duplicates on ``dup_field``
    and quality flags. ``seconds`` holds the wall time of each stage and ``stages`` wall
    and CPU seconds and peak memory per stage (what ``bench/anatomy.py`` prints)."""
    import pandas as pd

    for col in ("instruction", "output"):
        if col not in df:
            raise KeyError(f"anatomy needs column {col!r}; got {list(df.columns)} (use load())")
    clock = _StageClock()
    df = df.reset_index(drop=True)
    if "input" not in df:
        df = df.assign(input="")
    fields = ("instruction", "input", "output")
    with clock("chars"):
        texts = {f: df[f].fillna("").astype(str).tolist() for f in fields}
        lang = _majority_lang(texts["instruction"])
        lengths = pd.DataFrame({f"chars_{f}": df[f].fillna("").astype(str).str.len().to_numpy()
                                for f in fields})
    if tokenizer is not None:
        with clock("tokens"):
            for f in fields:
                lengths[f"tokens_{f}"] = token_lengths(texts[f], tokenizer)
    with clock("verbs"):
        vb = instruction_verbs(texts["instruction"]) if verbs else pd.DataFrame(
            {"lang": [lang] * len(df), "verb": "(none)", "object": ""})
    with clock("duplicates"):
        dups = near_duplicates(texts[dup_field], threshold)
    with clock("flags"):
        flags = quality_flags(df, short_chars=short_chars, lang=lang)
        flags["near_duplicate"] = dups.dup_of.values >= 0
        counts = {"rows": len(df), "unique_instructions": int(df["instruction"].nunique()),
                  "with_input": int((~flags["empty_input"]).sum())}
    sec = {k["stage"]: k["wall_s"] for k in clock.rows}
    sec["total"] = sum(sec.values())
    return Anatomy(name or df.attrs.get("source", "dataset"), lang, counts, lengths, vb, dups, flags, sec,
                   pd.DataFrame(clock.rows))


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


def scale(df, n: int, seed: int = 0, swap: float = 0.25, near_dup: float = 0.03,
          exact_dup: float = 0.01):
    """Grow ``df`` to ``n`` rows by deterministic perturbation (for benchmarks).

    The first ``len(df)`` rows are ``df`` itself. Every further row is one of:

    * an **exact duplicate** of an earlier row (probability ``exact_dup``);
    * a **near duplicate** of an earlier row (``near_dup``): one word of each text replaced
      and, in texts of 6+ words, one word dropped (ROUGE-L about 0.8-0.9 to its source);
    * otherwise a **new row** of the word length of a random base row: the opening of base
      row ``a`` (its first 20-40 % of words, so the leading verb / opening phrase survives),
      a middle of words drawn from the column's own word-frequency distribution (so common
      words stay common), and the ending of base row ``b`` (its last 20-30 %, so the final
      Korean predicate survives); the opening and ending keep each word with probability
      ``1 - swap``. No new row takes more than 40 % of its words from one base row.

    Lengths, languages, openings and predicates stay those of the sample and the shares of
    duplicates are set by the parameters (chance near-duplicates between new rows remain,
    as in real data, mostly short texts sharing an opening and an ending). A plain
    copy-and-swap would instead make clusters of ``n / len(df)`` variants of every row, a
    duplicate structure no real dataset has.
    Other columns (url, category, ...) come from the opening's base row. The same ``seed``
    always gives the same frame.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    base = df.reset_index(drop=True)
    nb = len(base)
    if n <= nb:
        out = base.iloc[:n].copy()
        out.attrs = dict(base.attrs)
        return out
    kind = rng.random(n)
    kind[:nb] = 1.0
    src = np.arange(n) % nb
    src[nb:] = rng.integers(0, nb, n - nb)
    other = rng.integers(0, nb, n)
    cut_a = rng.uniform(0.2, 0.4, n)
    cut_b = rng.uniform(0.2, 0.3, n)
    like = rng.integers(0, nb, n)  # the base row whose length a new row takes
    earlier = (rng.random(n) * np.arange(n)).astype(np.int64)
    exact = kind < exact_dup
    near = (kind >= exact_dup) & (kind < exact_dup + near_dup)
    row_of = src.copy()
    row_of[exact | near] = -1  # filled from earlier rows below
    cols = [c for c in ("instruction", "input", "output") if c in base]
    words = {c: [t.split() for t in base[c].fillna("").astype(str)] for c in cols}
    pool = {c: np.array([w for ws in words[c] for w in ws] or [""], dtype=object) for c in cols}
    vals = {c: base[c].fillna("").astype(str).tolist() + [""] * (n - nb) for c in cols}
    base_row = np.concatenate([np.arange(nb), np.zeros(n - nb, dtype=np.int64)])
    for k in range(nb, n):
        if exact[k] or near[k]:
            j = earlier[k]
            base_row[k] = base_row[j]
            for c in cols:
                ws = vals[c][j].split()
                if near[k] and ws:
                    ws = list(ws)
                    ws[int(rng.integers(len(ws)))] = str(pool[c][rng.integers(len(pool[c]))])
                    if len(ws) >= 6:
                        del ws[int(rng.integers(1, len(ws) - 1))]
                vals[c][k] = " ".join(ws) if near[k] else vals[c][j]
            continue
        a, b = src[k], other[k]
        base_row[k] = a
        for c in cols:
            wa, wb = words[c][a], words[c][b]
            if c == "input" and not wa:
                continue  # rows without input stay without input
            size = len(words[c][like[k]]) or len(wa)
            ia = min(size, max(1, int(round(size * cut_a[k]))))
            ib = min(size - ia, int(round(size * cut_b[k])))
            head = wa[:ia]
            tail = wb[len(wb) - ib:] if ib else []
            mid = pool[c][rng.integers(0, len(pool[c]), max(0, size - len(head) - len(tail)))].tolist()
            ws = head + mid + tail
            if len(ws) > 2:
                hit = np.flatnonzero(rng.random(len(ws) - 2) < swap) + 1
                if len(hit):
                    for h, w in zip(hit, pool[c][rng.integers(0, len(pool[c]), len(hit))]):
                        ws[h] = str(w)
            vals[c][k] = " ".join(ws)
    out = base.iloc[base_row].reset_index(drop=True).copy()
    for c in cols:
        out[c] = vals[c]
    out.attrs = {**base.attrs, "source": f"{base.attrs.get('source', 'dataset')} scaled to {n}"}
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------
# The self-instruct filter stages and the three conditions of a good SFT set
# ---------------------------------------------------------------------------
SELF_INSTRUCT_BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
                           "map", "maps", "draw", "plot", "go to", "video", "audio", "music",
                           "flowchart", "diagram")
SELF_INSTRUCT_SOURCE = "https://github.com/yizhongw/self-instruct (self_instruct/bootstrap_instructions.py)"


def self_instruct_filter(instructions: Sequence[str], threshold: float = 0.7, min_words: int = 3,
                         max_words: int = 150):
    """Run self-instruct's filter stages over ``instructions`` in order, as new candidates
    entering a task pool. Stages (first failing one is recorded): ``length`` (fewer than
    ``min_words`` or more than ``max_words`` words), ``blacklist`` (a word that an LM cannot
    act on: image, graph, file, draw, ...), ``punctuation`` (starts with punctuation),
    ``non_ascii`` (starts with a non-ASCII character), ``rouge`` (ROUGE-L >= ``threshold``
    with an instruction already kept); otherwise ``kept``. Returns a DataFrame
    ``instruction, stage, max_rouge, closest``. Stage list and word list follow the
    self-instruct code (``SELF_INSTRUCT_SOURCE``)."""
    import pandas as pd

    kept: list[list[str]] = []
    kept_text: list[str] = []
    rows = []
    for text in instructions:
        t = text.strip()
        words = t.split()
        low = " " + " ".join(_WORD.findall(t.lower())) + " "
        best, closest = 0.0, ""
        if not (min_words <= len(words) <= max_words):
            stage = "length"
        elif any(f" {w} " in low for w in SELF_INSTRUCT_BLACKLIST):
            stage = "blacklist"
        elif t and not t[0].isalnum():
            stage = "punctuation"
        elif t and not t[0].isascii():
            stage = "non_ascii"
        else:
            toks = rouge_tokens(t)
            masks = _masks(toks)
            for k, other in enumerate(kept):
                if other and toks:
                    f = 2 * lcs_length(toks, other, masks) / (len(toks) + len(other))
                    if f > best:
                        best, closest = f, kept_text[k]
            stage = "rouge" if best >= threshold else "kept"
            if stage == "kept":
                kept.append(toks)
                kept_text.append(t)
        rows.append({"instruction": t, "stage": stage, "max_rouge": round(best, 3), "closest": closest})
    return pd.DataFrame(rows)


def sft_checks(report: Anatomy, *, min_distinct_verbs_per_100: float = 20.0,
               min_median_output_chars: int = 40, max_short_share: float = 0.05,
               max_duplicate_share: float = 0.05, max_flag_share: float = 0.05):
    """The three conditions of a good SFT set, checked on one :class:`Anatomy`:
    (1) **diverse** instructions — distinct verbs/predicates per 100 rows;
    (2) **faithful** answers — median answer length and share of very short / empty answers;
    (3) **clean** — share of near-duplicate rows and of rows with markup or translation flags.
    The thresholds are our teaching defaults (parameters), not published cut-offs.
    Returns a DataFrame ``condition, measure, value, limit, ok``."""
    import pandas as pd

    n = max(1, report.counts["rows"])
    f = report.flags
    distinct = report.verbs.loc[report.verbs["verb"] != "(none)", "verb"].nunique() * 100 / n
    median_out = float(report.lengths["chars_output"].median())
    short = float((f["short_output"] | f["empty_output"]).mean())
    dup = float(f["near_duplicate"].mean())
    dirty = float((f["stray_markup"] | f["untranslated"]).mean())
    rows = [
        ("1 diverse", "distinct verbs per 100 rows", distinct, f">= {min_distinct_verbs_per_100:g}",
         distinct >= min_distinct_verbs_per_100),
        ("2 faithful", "median answer chars", median_out, f">= {min_median_output_chars}",
         median_out >= min_median_output_chars),
        ("2 faithful", "short or empty answer share", short, f"<= {max_short_share:g}", short <= max_short_share),
        ("3 clean", "near-duplicate row share", dup, f"<= {max_duplicate_share:g}", dup <= max_duplicate_share),
        ("3 clean", "markup/translation flag share", dirty, f"<= {max_flag_share:g}", dirty <= max_flag_share),
    ]
    out = pd.DataFrame(rows, columns=["condition", "measure", "value", "limit", "ok"])
    out["value"] = out["value"].round(3)
    out.insert(0, "dataset", report.name)
    return out
