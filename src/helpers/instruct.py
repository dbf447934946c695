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
