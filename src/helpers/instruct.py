"""Instruction datasets opened up, in notebook 03's order: prompt templates (data, not code) and :func:`render`;
:func:`load` for six schemas (errors name file, line and field); ROUGE-L, the textbook table :func:`rouge_l` and
:func:`near_duplicates` for large data (datasketch MinHash LSH + rapidfuzz LCS); verbs/predicates (kiwipiepy), quality
flags and the whole report :func:`anatomy`; the self-instruct filter, :func:`sft_checks`, figures, record browser."""

from __future__ import annotations

import bisect
import collections
import contextlib
import itertools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Required

import numpy as np
import pandas as pd
import pydantic
from rapidfuzz import process
from rapidfuzz.distance import LCSseq
from typing_extensions import TypedDict  # pydantic reads typing's own only from Python 3.12

from helpers import env, plots, records


def instruct_dir() -> Path:
    """``data/instruct`` (our samples, templates, source registry)."""
    return env.data_path("instruct")


# --- Templates -------------------------------------------------------------------------------------------
_TEMPLATE_KEYS = tuple("prompt_input prompt_no_input answer_format response_split eos source description kind".split())


def _templates() -> dict[str, dict]:
    """Every template file, checked; read again when a file is added, removed or edited (a running kernel sees it)."""
    files = sorted((instruct_dir() / "templates").glob("*.json"))
    return _read_templates(tuple((str(p), p.stat().st_mtime) for p in files))


@lru_cache(maxsize=4)
def _read_templates(files: tuple[tuple[str, float], ...]) -> dict[str, dict]:
    """The template files ``(path, mtime)``: a missing key or a bad ``name`` names the file and the field."""
    out = {}
    for p in (Path(path) for path, _ in files):
        try:
            t = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: line {e.lineno}: not valid JSON ({e.msg})") from e
        need = _TEMPLATE_KEYS + (("system", "roles", "sep", "sep2") if t.get("kind") == "conversation" else ())
        if missing := [key for key in need if key not in t]:
            raise ValueError(f"{p}: field {missing[0]!r} missing (template needs {', '.join(need)})")
        if "{output}" not in t["answer_format"]:
            raise ValueError(f"{p}: field 'answer_format' must contain '{{output}}'")
        if t.setdefault("name", p.stem) != p.stem:
            raise ValueError(f"{p}: field 'name' is {t['name']!r} but the file is {p.stem!r}")
        out[p.stem] = t
    return out


def template(name: str) -> dict:
    """One prompt template as a dict (a copy; editing it changes nothing on disk)."""
    if name not in _templates():
        raise KeyError(f"unknown template {name!r}; known: {', '.join(_templates())}")
    return dict(_templates()[name])


def templates():
    """All templates as a DataFrame (name, kind, description, source, note)."""
    return pd.DataFrame(_templates().values(), columns=["name", "kind", "description", "source", "note"]).fillna("")


def render(record: Mapping[str, Any], template_name: str = "stanford_alpaca",
           eos_token: str | None = None) -> tuple[str, str]:
    """``(prompt, answer)``: ``prompt + answer`` is the exact training text, only ``answer`` carries the loss. The
    ``*_input`` variant is used when ``input`` is not blank. Where the template's ``eos`` is true the answer ends with
    ``eos_token`` (the Stanford/KoAlpaca scripts append it); Vicuna's separator already is ``</s>``."""
    t = template(template_name)
    if "instruction" not in record:
        raise KeyError(f"record has no 'instruction' field (fields: {sorted(record)})")
    text = {k: "" if (v := record.get(k)) is None or (isinstance(v, float) and v != v) else str(v)
            for k in ("instruction", "input", "output")}  # missing, None and NaN (pandas' empty cell): ""
    fmt = t["prompt_input"] if text["input"].strip() else t["prompt_no_input"]
    prompt = fmt.replace("{instruction}", text["instruction"]).replace("{input}", text["input"])
    answer = t["answer_format"].replace("{output}", text["output"])
    return prompt, answer + ((eos_token or "") if t["eos"] else "")


def render_marked(record: Mapping[str, Any], template_name: str = "stanford_alpaca", eos_token: str | None = None):
    """The training text with the loss-carrying part between ⟦ and ⟧."""
    return "⟦".join(render(record, template_name, eos_token)) + "⟧"


# A piece of a rendered conversation: its text, whether it carries the loss, its role (system, user or assistant)
Segment = collections.namedtuple("Segment", ["text", "loss", "role"])


def render_conversation(turns: Sequence[Any], template_name: str = "vicuna_v1_1") -> list[Segment]:
    """A conversation as segments, FastChat ``ADD_COLON_TWO`` style (joined: the exact model input). ``turns`` are
    dicts with ``role`` and ``text``/``content``, or ``(role, text)`` pairs. Each assistant reply with its closing
    ``sep2`` carries the loss; a trailing user turn ends in an open ``"ASSISTANT:"`` for generation."""
    t = template(template_name)
    if t["kind"] != "conversation":
        raise ValueError(f"template {template_name!r} is kind {t['kind']!r}, not a conversation template")
    roles, segs, pending = t["roles"], [Segment(t["system"] + t["sep"], False, "system")], ""
    for i, turn in enumerate(turns):
        role, text = turn if not isinstance(turn, Mapping) else (  # ShareGPT's from/value work too
            turn.get("role", turn.get("from")), turn.get("text", turn.get("content", turn.get("value"))))
        role = {"prompter": "user", "human": "user", "gpt": "assistant"}.get(role, role)
        if role != (want := ("user", "assistant")[i % 2]):
            raise ValueError(f"turn {i}: field 'role' is {role!r}; expected {want!r} (turns alternate "
                             "user/prompter/human and assistant/gpt, starting with the user)")
        if not isinstance(text, str):
            raise ValueError(f"turn {i}: field 'text' must be a string, got {type(text).__name__}")
        if role == "user":
            pending += f"{roles['user']}: {text}{t['sep']}{roles['assistant']}:"
        else:
            segs += [Segment(pending, False, "user"), Segment(f" {text}{t['sep2']}", True, "assistant")]
            pending = ""
    return segs + [Segment(pending, False, "user")] if pending else segs


def conversation_text(segments: Iterable[Segment], marks: tuple[str, str] | None = None) -> str:
    """Join segments; with ``marks`` (e.g. ``("⟦", "⟧")``) the loss-carrying ones are wrapped for display."""
    return "".join(f"{marks[0]}{s.text}{marks[1]}" if marks and s.loss else s.text for s in segments)


# --- Loading ---------------------------------------------------------------------------------------------
SCHEMAS = ("alpaca", "koalpaca_v1_1", "self_instruct", "dolly", "oasst1")
DOLLY_CATEGORIES = ("open_qa", "general_qa", "classification", "closed_qa", "brainstorming",
                    "information_extraction", "summarization", "creative_writing")
_STRICT = pydantic.ConfigDict(strict=True)  # 3 is not a string, "yes" is not a bool
_INSTANCE = pydantic.create_model("SelfInstructInstance", __config__=_STRICT, input=(str, ...), output=(str, ...))
# The fields each schema requires, with their types; other fields are kept.
_FIELDS: dict[str, dict[str, Any]] = {
    "alpaca": {"instruction": str, "input": str, "output": str},
    "koalpaca_v1_1": {"instruction": str, "output": str, "url": str},
    "self_instruct": {"id": str, "name": str, "instruction": str, "is_classification": bool,
                      "instances": Annotated[list[_INSTANCE], pydantic.Field(min_length=1)]},
    "dolly": {"instruction": str, "context": str, "response": str, "category": Literal[DOLLY_CATEGORIES]},
    "oasst1": {"message_id": str, "parent_id": str | None, "text": str,
               "role": Literal["prompter", "assistant"], "lang": str, "message_tree_id": str},
}
_MODELS = {schema: pydantic.create_model(schema, __config__=_STRICT, **{k: (kind, ...) for k, kind in fields.items()})
           for schema, fields in _FIELDS.items()}
# load() detects the first schema whose keys a record has (alpaca rows with "input" may also carry a url)
_SIGNATURES = (("self_instruct", {"instances", "is_classification"}), ("oasst1", {"message_id", "parent_id"}),
               ("dolly", {"context", "response", "category"}), ("alpaca", {"instruction", "input", "output"}),
               ("koalpaca_v1_1", {"instruction", "output", "url"}), ("alpaca", {"instruction", "output"}))


class InstructFormatError(records.RecordError):
    """A record does not fit its schema; names the file, the line/record and the field."""


# the schemas' text fields: a number typed into a spreadsheet cell (CSV, TSV, XLSX) is read as text
_TEXT = dict.fromkeys(("instruction", "input", "output", "url", "context", "response", "category"), str)


def _valid(rec: Any, schema: str, file: str, where: str, skip) -> bool:
    """Whether ``rec`` fits the schema's model; if not, ``skip`` (raise or note) gets an error naming the field."""
    try:
        _MODELS[schema].model_validate(rec)
        return True
    except pydantic.ValidationError as e:
        err = e.errors()[0]
        name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or None
        message = (f"missing (schema {schema} needs {', '.join(_FIELDS[schema])})" if err["type"] == "missing"
                   else f"{err['msg']}, got {type(err['input']).__name__} {str(err['input'])[:40]!r}")
        skip(InstructFormatError(file, where, name, message))
        return False


def _rows(recs: list[tuple[str, dict]], schema: str, file: str, skip) -> list[dict]:
    """A row per example (OASST1: per reply to a prompt): ``instruction, input, output``, own fields, ``src_where``."""
    by_id = {r["message_id"]: r for _, r in recs} if schema == "oasst1" else {}
    rows = []
    for where, r in recs:
        if schema == "oasst1":
            if r["parent_id"] is not None and r["parent_id"] not in by_id:
                skip(InstructFormatError(file, where, "parent_id", f"{r['parent_id']!r} is no message_id in this file"))
            elif r["role"] == "assistant" and r["parent_id"] is not None:
                rows.append({"instruction": by_id[r["parent_id"]]["text"], "input": "", "output": r["text"],
                             **{k: r.get(k) for k in ("lang", "rank", "message_tree_id", "message_id", "parent_id")},
                             "src_where": where})
        elif schema == "self_instruct":  # one row per instance
            rows += [{"instruction": r["instruction"], "input": it["input"], "output": it["output"],
                      "id": r["id"], "name": r["name"], "is_classification": r["is_classification"],
                      "instance": j, "src_where": where} for j, it in enumerate(r["instances"])]
        else:
            names = {"context": "input", "response": "output"} if schema == "dolly" else {}  # Dolly's names
            r = {names.get(k, k): v for k, v in r.items()}
            rows.append({"instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"], **r,
                         "src_where": where})  # the source's own fields after the three (same values for those)
    return rows


class _Source(TypedDict, total=False):
    """One entry of ``data/instruct/sources.yaml`` (its header explains the keys); unknown keys are errors."""
    __pydantic_config__ = pydantic.ConfigDict(extra="forbid")
    schema: Required[Literal[SCHEMAS]]
    sample: Required[str]
    source: Required[str]
    note: Required[str]
    hub: str
    github: str
    path: str
    revision: str
    pinned_from: str


def _sources() -> dict[str, dict]:
    """Known dataset names (``data/instruct/sources.yaml``): sample file, hub source, pinned revision, note."""
    path = instruct_dir() / "sources.yaml"
    return _read_sources(str(path), path.stat().st_mtime)


@lru_cache(maxsize=4)
def _read_sources(path: str, mtime: float) -> dict[str, dict]:
    return env.read_yaml(path, pydantic.RootModel[dict[str, _Source]], InstructFormatError).root


def _records_of(source, profile=None, revision=None, sheet=None, skip=None) -> tuple[str, list, str | None]:
    """``(label, [(where, record)], schema or None)`` for a file (:func:`helpers.records.read`) or a known name."""
    src, known = str(source), _sources()
    spec = {} if Path(src).is_file() else known.get(src)
    if spec is None:
        raise FileNotFoundError(f"{src}: no such file, and not a known dataset name ({', '.join(known)})")
    if not spec or env.profile(profile) == "tiny":
        path = instruct_dir() / spec["sample"] if spec else Path(src)
        recs = records.read(path, InstructFormatError, sheet=sheet, types=_TEXT, skip=skip)
        return str(path), recs, spec.get("schema")
    import datasets

    rev = revision or spec.get("revision") or "main"  # unpinned: hub_commit warns and names today's commit
    if spec.get("hub"):
        rev = env.hub_commit(spec["hub"], rev, "dataset", pin=f"its revision in data/instruct/sources.yaml ({src})")
        label = f"hub:{spec['hub']}@{rev}"
        with env.hub_errors(spec["hub"], rev):
            ds = datasets.load_dataset(spec["hub"], revision=rev, split="train")
    else:  # a file on GitHub; LLM_SURVEY_GITHUB_RAW names a mirror of raw.githubusercontent.com
        raw = os.environ.get("LLM_SURVEY_GITHUB_RAW") or "https://raw.githubusercontent.com"
        label = f"{raw.rstrip('/')}/{spec['github']}/{rev}/{spec['path']}"
        ds = datasets.load_dataset("json", data_files=label, split="train")
    return label, [(f"record {i}", r) for i, r in enumerate(ds)], spec["schema"]


def load(source: str | Path, schema: str | None = None, *, profile: str | None = None,
         revision: str | None = None, sheet: str | None = None, skip_errors: bool = False):
    """An instruction dataset as one DataFrame: ``instruction, input, output`` (Dolly's context/response and OASST's
    prompter/assistant pairs mapped onto them), the source's own fields, ``src_where`` (its line or record).
    ``source``: a file (any format of :func:`helpers.records.read`; ``sheet``: the XLSX sheet) or a known name
    (``data/instruct/sources.yaml``: our sample in the tiny profile, the pinned real dataset in the real one). The
    schema is detected from the first record's keys unless given. Malformed records raise :class:`InstructFormatError`;
    ``skip_errors=True`` leaves them out, listed in ``df.attrs["load_report"]`` (a ``LoadReport``) and a warning."""
    report = records.LoadReport(str(source), skip_errors)
    label, recs, known = _records_of(source, profile, revision, sheet, report.skip)
    report.file, report.records, schema = label, len(recs) + len(report.skipped), schema or known
    if schema is None:
        where, first = recs[0] if recs else ("record 0", {})
        if not isinstance(first, Mapping):
            raise InstructFormatError(label, where, None, f"expected a JSON object, got {type(first).__name__}")
        if (schema := next((name for name, keys in _SIGNATURES if keys <= first.keys()), None)) is None:
            found = f"fields {sorted(first)}" if recs else "no records (an empty file)"
            raise InstructFormatError(label, where, None, f"cannot tell the schema from {found}; pass schema= one of "
                                      f"{', '.join(SCHEMAS)}")
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; expected one of {', '.join(SCHEMAS)}")
    rows = _rows([(w, r) for w, r in recs if _valid(r, schema, label, w, report.skip)], schema, label, report.skip)
    df = pd.DataFrame(rows, columns=None if rows else ["instruction", "input", "output", "src_where"])
    df.attrs.update(load_report=report.done(len(df)), schema=schema, source=label)
    return df


def oasst_threads(source: str | Path = "oasst1", *, best_only: bool = True, profile: str | None = None,
                  revision: str | None = None) -> list[list[dict]]:
    """OASST1 trees as conversations (lists of ``{"role", "text"}``) for :func:`render_conversation`: from each root
    prompt the best-ranked replies (lowest ``rank``), one thread per tree (``best_only=False``: every path)."""
    label, recs, _ = _records_of(source, profile, revision)
    for where, r in recs:
        _valid(r, "oasst1", label, where, records.LoadReport(label).skip)  # raises
    replies: dict[Any, list[dict]] = {}
    for _, r in sorted(recs, key=lambda wr: (wr[1].get("rank") is None, wr[1].get("rank") or 0)):
        replies.setdefault(r["parent_id"], []).append(r)  # best-ranked first, unranked last

    def walk(msg: dict, thread: list[dict]) -> list[list[dict]]:
        thread = thread + [{"role": "user" if msg["role"] == "prompter" else "assistant", "text": msg["text"]}]
        nxt = replies.get(msg["message_id"], [])
        if nxt:
            return [t for child in (nxt[:1] if best_only else nxt) for t in walk(child, thread)]
        thread = thread[:-1] if thread[-1]["role"] == "user" else thread  # a last prompt without a reply is dropped
        return [thread] if thread else []

    return [t for root in replies.get(None, []) if root["role"] == "prompter" for t in walk(root, [])]


# --- ROUGE-L and near-duplicates -------------------------------------------------------------------------
ALL_PAIRS_UP_TO = 3000  # distinct texts; above this "auto" blocks with MinHash LSH


def rouge_tokens(text: str) -> list[str]:
    """Lower-cased ``\\w+`` tokens (rouge-score's default keeps ``[a-z0-9]``, erasing Korean; on ASCII they agree)."""
    return re.findall(r"\w+", text.lower())


def rouge_l(a: str | Sequence[str], b: str | Sequence[str]) -> float:
    """ROUGE-L F1 of two texts (or token lists) with the textbook LCS table: precision and recall are
    LCS/len, so their harmonic mean is ``2 * LCS / (len(a) + len(b))``. Deliberately plain; :func:`near_duplicates`
    gets the same floats from rapidfuzz's LCS (C++, bit-parallel), hundreds of times faster."""
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
    return 2 * prev[-1] / (len(x) + len(y))  # prev[-1] is the LCS length


def _rouge_l_fast(x: list[str], y: list[str]) -> float:
    """:func:`rouge_l` of two non-empty token lists, with rapidfuzz's LCS (C++, bit-parallel)."""
    return 2 * LCSseq.similarity(x, y) / (len(x) + len(y))


def jaccard_floor(threshold: float) -> float:
    """Smallest Jaccard similarity of the tagged token multisets of two texts whose ROUGE-L F1 reaches
    ``threshold`` t: ``F = 2 L / (m + n) >= t`` and the multiset overlap ``O >= L`` give
    ``J = O / (m + n - O) >= t / (2 - t)`` (0.538 for 0.7)."""
    return threshold / (2 - threshold)


def lsh_recall(jaccard: float, bands: int, rows: int) -> float:
    """Chance that LSH with ``bands`` x ``rows`` puts a pair of Jaccard J in one bucket: ``1 - (1 - J^rows)^bands``."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


@dataclass
class Duplicates:
    """Result of :func:`near_duplicates`."""
    pairs: Any          # DataFrame i, j (row positions, i < j), rouge_l
    dup_of: Any         # Series: for each row, the first earlier row it duplicates (or -1)
    candidates: int     # pairs scored exactly (minhash: those of small buckets once, large buckets per band)
    all_pairs: int      # pairs a scan of all distinct texts scores
    method: str         # "all_pairs" or "minhash"

    @property
    def n_duplicate_rows(self) -> int:
        """Rows that duplicate an earlier one."""
        return int((self.dup_of >= 0).sum())


def near_duplicates(texts: Sequence[str], threshold: float = 0.7, method: str = "auto",
                    seed: int = 0, bands: int = 40, rows: int = 3) -> Duplicates:
    """All pairs with ROUGE-L F1 >= ``threshold`` (self-instruct's filter uses 0.7), in three steps:
    1. Texts with identical tokens are exact duplicates (score 1.0); only the first of each goes on.
    2. Blocks: ``"all_pairs"`` (``"auto"`` up to ``ALL_PAIRS_UP_TO`` texts) one block of all; ``"minhash"``: LSH over a
       ``datasketch`` MinHash (``bands * rows`` permutations) of each text's *tagged* words ("the 0", "the 1": the set
       keeps the multiset). A pair with ROUGE-L >= t has Jaccard >= ``jaccard_floor(t)`` and shares a bucket with
       probability ``lsh_recall(J, bands, rows)``: 0.9989 for 40 x 3. Buckets come from the signatures with numpy
       (datasketch's ``MinHashLSH`` makes a Python call per text and band: 15 s for 50,000 texts).
    3. Exact scores from rapidfuzz's LCS with :func:`rouge_l`'s formula (the same floats): small buckets pair
       by pair, large ones whole with ``process.cdist``."""
    toks = [rouge_tokens(t) if isinstance(t, str) else [] for t in texts]
    first, found = {}, {}  # token tuple -> first row; (i, j) -> rouge_l
    for i, t in enumerate(toks):
        if t and (r := first.setdefault(tuple(t), i)) != i:
            found[r, i] = 1.0
    uniq = np.array(list(first.values()), dtype=np.int64)
    if method not in ("auto", "all_pairs", "minhash"):
        raise ValueError(f"method must be auto, all_pairs or minhash, not {method!r}")
    if method == "all_pairs" or (method == "auto" and len(uniq) <= ALL_PAIRS_UP_TO):
        method, pairs, blocks = "all_pairs", [], [uniq]
    else:
        method, (pairs, blocks) = "minhash", _lsh_candidates([toks[i] for i in uniq], uniq, seed, bands, rows)
    found.update({(i, j): f for i, j in pairs if (f := _rouge_l_fast(toks[i], toks[j])) >= threshold})
    for block in blocks:
        found.update(_pairs_in_block(block, toks, threshold))
    table = pd.DataFrame([(i, j, f) for (i, j), f in found.items()], columns=["i", "j", "rouge_l"])
    table = table.astype({"i": "int64", "j": "int64", "rouge_l": "float64"}).sort_values(["i", "j"], ignore_index=True)
    dup_of = pd.Series(table.groupby("j")["i"].min().to_dict(), index=range(len(toks))).fillna(-1).astype("int64")
    candidates = len(pairs) + sum(len(b) * (len(b) - 1) // 2 for b in blocks)
    return Duplicates(table, dup_of, candidates, len(uniq) * (len(uniq) - 1) // 2, method)


def _lsh_candidates(token_lists: list[list[str]], ids, seed: int, bands: int, rows: int, small: int = 8):
    """MinHash LSH blocking: ``(pairs, big_blocks)``, the distinct pairs ``(i, j)``, i < j, of ``ids`` that share a
    bucket of at most ``small`` texts in some band, and the buckets of more texts (arrays of ``ids``)."""
    from datasketch import MinHash

    def tagged(tokens):  # the n-th occurrence of a word as "word n"
        seen = collections.defaultdict(itertools.count)
        return [f"{w} {next(seen[w])}".encode() for w in tokens]

    if not token_lists:
        return [], []
    hashes = MinHash.generator((tagged(t) for t in token_lists), num_perm=bands * rows, seed=seed)
    signatures = np.stack([m.hashvalues for m in hashes])
    n, codes, big = len(ids), [], []
    for band in range(bands):
        # the band's `rows` hash values of a text as one bytes key; equal keys share a bucket
        key = np.ascontiguousarray(signatures[:, band * rows:(band + 1) * rows]).view(f"V{4 * rows}").ravel()
        _, bucket, size = np.unique(key, return_inverse=True, return_counts=True)
        member = np.flatnonzero(size[bucket] > 1)
        member = member[np.argsort(bucket[member], kind="stable")]  # bucket by bucket
        b, s = bucket[member], size[bucket[member]]
        for d in range(1, small):  # members d places apart in the same small bucket
            same = np.flatnonzero((b[d:] == b[:-d]) & (s[d:] <= small))
            codes.append(member[same] * n + member[same + d])
        large = member[s > small]
        big += np.split(ids[large], np.flatnonzero(np.diff(bucket[large])) + 1) if len(large) else []
    code = np.unique(np.concatenate(codes))  # member * n + later member of its bucket; ids ascend, so i < j
    return np.stack([ids[code // n], ids[code % n]], axis=1).tolist(), big


def _pairs_in_block(block, toks, threshold: float, chunk: int = 256) -> dict:
    """``{(i, j): rouge_l}`` for the pairs ``i < j`` of ``block`` reaching ``threshold`` (``cdist``, ``chunk`` rows)."""
    block = np.sort(block)
    seqs = [toks[i] for i in block]
    lens = np.array([len(t) for t in seqs])
    out = {}
    for start in range(0, len(block) - 1, chunk):
        lcs = process.cdist(seqs[start:start + chunk], seqs[start:], scorer=LCSseq.similarity, dtype=np.int32)
        f = np.triu(2 * lcs / (lens[start:start + chunk, None] + lens[start:]), 1)  # rouge_l's formula
        r, c = np.nonzero(f >= threshold)
        out.update(zip(zip(block[start + r].tolist(), block[start + c].tolist()), f[r, c].tolist()))
    return out


# --- Instruction diversity: leading verbs (English) and main predicates (Korean) -------------------------
_HANGUL = re.compile(r"[가-힣]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_EN_FILLERS = {"please", "kindly", "now", "also", "then", "just", "so"}
_EN_QUESTION = set("what which who whom whose when where why how is are was were do does did can could would should "
                   "will shall may might has have had if in on at based".split())
_EN_SKIP = set("a an the this these that those some any following given me us my your our one two three four five ten "
               "short simple new quick brief good list of to for in with and or each every all more few several "
               "everyday first".split())
_PRED = ("VV", "VA", "XSV", "XSA", "VCP", "VCN")
_NOUN = ("NNG", "NNP", "NP", "NR", "XR", "SL", "SN")


def lang_of(text: str) -> str:
    """``"ko"`` when Hangul makes up at least 30 % of the letters, else ``"en"``."""
    h, latin = len(_HANGUL.findall(text)), sum(len(w) for w in _LATIN_WORD.findall(text))
    return "ko" if h and h >= 0.3 * (h + latin) else "en"


def english_verb(instruction: str) -> tuple[str, str]:
    """``(verb, object)`` by a heuristic: imperatives start with their verb ("Please summarize the text" ->
    summarize/text: the object is the next word that is no determiner, number or filler), questions give
    ``"(question)"`` and the question word. The self-instruct paper used a constituency parser (Berkeley Neural
    Parser); this cheap stand-in misreads e.g. "Name" used as a noun."""
    words = list(itertools.dropwhile(_EN_FILLERS.__contains__, map(str.lower, _LATIN_WORD.findall(instruction))))
    if not words:
        return "(none)", ""
    if words[0] in _EN_QUESTION:
        return "(question)", words[0]
    return words[0], next((w for w in words[1:] if w not in _EN_SKIP and len(w) > 1), "")


@cache
def _kiwi():
    """Kiwi without its multi-word dictionary (~180 MB, ~3 s to load): it cannot apply to single eojeols."""
    from kiwipiepy import Kiwi

    return Kiwi(load_multi_dict=False)


def korean_predicate(instruction: str | Sequence) -> tuple[str, str]:
    """``(predicate, object)`` of a Korean instruction (or its Kiwi morphemes). Korean is head-final: the main
    predicate is the last verb/adjective/copula morpheme (auxiliaries such as 주다 in "설명해 주세요" are skipped),
    noun + 하다 verbs kept whole ("번역하다"); the object is the noun before the last 을/를."""
    toks = _kiwi().tokenize(instruction) if isinstance(instruction, str) else instruction
    tags = [t.tag.split("-")[0] for t in toks]  # "VV-R" (regular verb) -> "VV"
    p = next((k for k in range(len(toks) - 1, -1, -1) if tags[k] in _PRED), None)
    if p is None:
        return "(none)", ""
    start = p - 1 if tags[p] in ("XSV", "XSA") and p > 0 and tags[p - 1] in _NOUN else p  # 번역 + 하다
    verb = {"VCP": "이다", "VCN": "아니다"}.get(tags[p]) or "".join(t.form for t in toks[start:p + 1]) + "다"
    # the noun before the last object marker (을/를); else the noun right before the predicate
    marker = next((k for k in range(start - 1, -1, -1) if tags[k] == "JKO"), 0)
    before = toks[start - 1].form if start > 0 and tags[start - 1] in _NOUN else ""
    return verb, next((toks[q].form for q in range(marker - 1, -1, -1) if tags[q] in _NOUN), before)


def _kiwi_words(words: list[str]) -> list[list]:
    """Kiwi morphemes of each eojeol from ONE call on the newline-joined words (~15x faster than its list API, whose
    per-call overhead dominates), sent back by offset. Neighbouring lines may act as context; predicates stay."""
    starts = list(itertools.accumulate((len(w) + 1 for w in words[:-1]), initial=0))
    out: list[list] = [[] for _ in words]
    for tok in _kiwi().tokenize("\n".join(words)) if words else []:
        out[bisect.bisect_right(starts, tok.start) - 1].append(tok)
    return out


def instruction_verbs(instructions: Sequence[str]):
    """DataFrame ``lang, verb, object`` per instruction; each distinct eojeol of Korean tails analysed once."""
    langs = {u: lang_of(u) for u in dict.fromkeys(instructions)}
    tails = {u: u.split()[-3:] for u, lang in langs.items() if lang == "ko"}  # the last 3 eojeols
    words = list(dict.fromkeys(w for tail in tails.values() for w in tail))
    morphs = dict(zip(words, _kiwi_words(words)))
    out = {u: korean_predicate([m for w in tails[u] for m in morphs[w]]) if lang == "ko" else english_verb(u)
           for u, lang in langs.items()}
    return pd.DataFrame([(langs[x], *out[x]) for x in instructions], columns=["lang", "verb", "object"])


# --- Quality and translation-artifact flags --------------------------------------------------------------
_MARKUP = re.compile(r"#/|\\n|&[a-z]+;|</?[a-zA-Z]+>|\[\[|\]\]")
_EN_FUNCTION = {"the", "a", "an", "about", "of", "to", "for", "with", "and", "or", "in", "on", "is",
                "are", "following", "sentence", "write", "given"}


def untranslated_english(text: str) -> bool:
    """In Korean data: a field mostly English (3+ Latin words, under 20 % Hangul letters) or Korean text with
    English function words mixed in ("트윗을 작성하세요 about ...")."""
    words, h = _LATIN_WORD.findall(text), len(_HANGUL.findall(text))
    latin = sum(map(len, words))
    return (len(words) >= 3 and h < 0.2 * (h + latin)) or (h > 0 and any(w.lower() in _EN_FUNCTION for w in words))


def quality_flags(df, *, short_chars: int = 8, lang: str | None = None):
    """Per row: empty_input, empty_output, short_output, stray_markup, untranslated (Korean data), echo."""
    ins = df["instruction"].fillna("").astype(str)
    inp = df["input"].fillna("").astype(str) if "input" in df else pd.Series("", index=df.index)
    out = df["output"].fillna("").astype(str)
    flags = pd.DataFrame({"empty_input": inp.str.strip().eq(""), "empty_output": out.str.strip().eq("")})
    flags["short_output"] = out.str.strip().str.len().lt(short_chars) & ~flags["empty_output"]
    flags["stray_markup"] = (ins + "\n" + inp + "\n" + out).str.contains(_MARKUP)
    flags["untranslated"] = ([untranslated_english(a) or untranslated_english(b) for a, b in zip(ins, inp)]
                             if (lang or _majority_lang(ins)) == "ko" else False)
    flags["echo"] = out.str.strip().str.lower().eq(ins.str.strip().str.lower()) & ~flags["empty_output"]
    return flags


def _majority_lang(texts: Iterable[str]) -> str:
    """The language of most of the first 500 texts."""
    sample = list(texts)[:500]
    return "ko" if 2 * sum(lang_of(t) == "ko" for t in sample) >= max(1, len(sample)) else "en"


# --- The whole report ------------------------------------------------------------------------------------
def token_lengths(texts: Sequence[str], tokenizer) -> list[int]:
    """Token counts without special tokens, each distinct text once: ``encode_batch_fast`` of a Rust tokenizer,
    1,000 texts at a time (the encodings are dropped as we go); ``tokenizer(texts)`` for one without."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    uniq = list(dict.fromkeys(texts))
    fast = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if hasattr(fast, "encode_batch_fast"):
        counts = [len(e) for k in range(0, len(uniq), 1000)
                  for e in fast.encode_batch_fast(uniq[k:k + 1000], add_special_tokens=False)]
    else:  # transformers' SentencePiece- or Python-only tokenizers
        counts = [len(ids) for ids in tokenizer(uniq, add_special_tokens=False)["input_ids"]]
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

    def verb_counts(self, top: int = 20, per_verb: int = 4):
        """The ``top`` verbs and their ``per_verb`` most common objects (the sunburst data)."""
        v = self.verbs[self.verbs["verb"] != "(none)"]
        v = v[v["verb"].isin(v["verb"].value_counts().head(top).index)]
        c = v.groupby(["verb", "object"]).size().rename("n").reset_index()
        c = c.sort_values(["verb", "n"], ascending=[True, False]).groupby("verb").head(per_verb)
        return c.reset_index(drop=True)


def anatomy(df, tokenizer=None, *, name: str | None = None, dup_field: str = "instruction",
            threshold: float = 0.7, short_chars: int = 8, verbs: bool = True, clock=None) -> Anatomy:
    """The whole report: counts, lengths (characters; tokens of ``tokenizer``), verbs/predicates, ROUGE-L
    near-duplicates on ``dup_field``, quality flags; ``clock(stage)``: a context manager around each stage."""
    if missing := [col for col in ("instruction", "output") if col not in df]:
        raise KeyError(f"anatomy needs column {missing[0]!r}; got {list(df.columns)} (use load())")
    stage = clock or (lambda label: contextlib.nullcontext())
    df = df.reset_index(drop=True)
    df = df if "input" in df else df.assign(input="")
    fields = ("instruction", "input", "output")
    with stage("chars"):
        texts = {f: df[f].fillna("").astype(str).tolist() for f in fields}
        lang = _majority_lang(texts["instruction"])
        lengths = pd.DataFrame({f"chars_{f}": [len(t) for t in texts[f]] for f in fields})
    if tokenizer is not None:
        with stage("tokens"):
            lengths = lengths.assign(**{f"tokens_{f}": token_lengths(texts[f], tokenizer) for f in fields})
    with stage("verbs"):
        vb = instruction_verbs(texts["instruction"]) if verbs else pd.DataFrame(
            {"lang": [lang] * len(df), "verb": "(none)", "object": ""})
    with stage("duplicates"):
        dups = near_duplicates(texts[dup_field], threshold)
    with stage("flags"):
        flags = quality_flags(df, short_chars=short_chars, lang=lang)
        flags["near_duplicate"] = dups.dup_of.values >= 0
        counts = {"rows": len(df), "unique_instructions": int(df["instruction"].nunique()),
                  "with_input": int((~flags["empty_input"]).sum())}
    return Anatomy(name or df.attrs.get("source", "dataset"), lang, counts, lengths, vb, dups, flags)


def summary_table(*reports: Anatomy):
    """Side-by-side headline numbers of several :class:`Anatomy` reports (one column each)."""
    return pd.concat([pd.Series({
        **r.counts, "empty_input_share": round(float(r.flags["empty_input"].mean()), 3),
        **{f"median_{c}": float(r.lengths[c].median()) for c in ("chars_output", "tokens_output") if c in r.lengths},
        "near_duplicate_rows": r.duplicates.n_duplicate_rows,
        **r.flags[["short_output", "stray_markup", "untranslated", "empty_output"]].sum().add_prefix("flag_"),
        "distinct_verbs": int(r.verbs["verb"].nunique())}, name=r.name) for r in reports], axis=1)


def median_gap(a: Anatomy, b: Anatomy, column: str = "chars_output", n_boot: int = 2000, seed: int = 0) -> dict:
    """Median of ``column`` in ``b`` minus in ``a``, with a 95 % percentile bootstrap interval
    (``scipy.stats.bootstrap``, each sample resampled on its own)."""
    from scipy import stats

    x, y = (r.lengths[column].to_numpy(dtype=float) for r in (a, b))
    res = stats.bootstrap((x, y), lambda x, y, axis: np.median(y, axis=axis) - np.median(x, axis=axis),
                          n_resamples=n_boot, method="percentile", batch=100, rng=np.random.default_rng(seed))
    return {"column": column, "median_a": float(np.median(x)), "median_b": float(np.median(y)),
            "gap": float(np.median(y) - np.median(x)), "ci95": tuple(map(float, res.confidence_interval))}


# --- The self-instruct filter stages, and our own quality checks of an SFT set -------------------------------
SELF_INSTRUCT_BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map",
                           "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram")
SELF_INSTRUCT_SOURCE = ("https://github.com/tatsu-lab/stanford_alpaca/blob/f13496211289def0ff88ae673389ae14a818b4b3/"
                        "generate_instruction.py")


def self_instruct_filter(instructions: Sequence[str], threshold: float = 0.7, short_words: int = 3,
                         max_words: int = 150):
    """The filter stages of Alpaca's ``generate_instruction.py`` (``SELF_INSTRUCT_SOURCE``; self-instruct's
    ``bootstrap_instructions.py`` has them with a shorter blacklist) over ``instructions`` entering a task pool in
    order; the first failing stage is recorded: ``length`` (``len(inst.split()) <= 3 or > 150``), ``blacklist`` (a
    word an LM cannot act on), ``program``, ``punctuation`` / ``non_ascii`` (the first character), ``rouge`` (ROUGE-L
    above ``threshold`` with one already kept), else ``kept``. DataFrame ``instruction, stage, max_rouge, closest``."""
    kept, rows = [], []  # kept: (tokens, text) of the pool
    for text in instructions:
        t = text.strip()
        toks = rouge_tokens(t)
        words = f" {' '.join(toks)} "
        best, closest = 0.0, ""
        stage = next((name for name, failed in (
            ("length", not (short_words < len(t.split()) <= max_words)),
            ("blacklist", any(f" {w} " in words for w in SELF_INSTRUCT_BLACKLIST)),
            ("program", t.startswith("Write a program")),
            ("punctuation", t and not t[0].isalnum()), ("non_ascii", t and not t[0].isascii())) if failed), None)
        if stage is None:  # the first kept instruction of the highest ROUGE-L above 0
            scores = [(_rouge_l_fast(toks, other), other_text) for other, other_text in kept if other and toks]
            best, closest = max([(best, closest), *scores], key=lambda score_text: score_text[0])
            stage = "rouge" if best > threshold else "kept"
            if stage == "kept":
                kept.append((toks, t))
        rows.append({"instruction": t, "stage": stage, "max_rouge": round(best, 3), "closest": closest})
    return pd.DataFrame(rows)


def sft_checks(report: Anatomy, *, min_distinct_verbs_per_100: float = 20.0, min_median_output_chars: int = 40,
               max_short_share: float = 0.05, max_duplicate_share: float = 0.05, max_flag_share: float = 0.05):
    """Our own checks of an SFT set (teaching advice with our thresholds, not the lecture's conditions or published
    cut-offs): **diverse** instructions, **faithful** answers, **clean** rows; ``dataset, condition, measure, value,
    limit, ok``."""
    f, verbs = report.flags, report.verbs["verb"]
    share = lambda *flags: f[list(flags)].any(axis=1).mean()  # of the rows with any of these flags
    checks = [  # condition, measure, value, ">=" or "<=", limit
        ("diverse", "distinct verbs per 100 rows", verbs[verbs != "(none)"].nunique() * 100 / max(1, len(f)),
         ">=", min_distinct_verbs_per_100),
        ("faithful", "median answer chars", report.lengths["chars_output"].median(), ">=", min_median_output_chars),
        ("faithful", "short or empty answer share", share("short_output", "empty_output"), "<=", max_short_share),
        ("clean", "near-duplicate row share", share("near_duplicate"), "<=", max_duplicate_share),
        ("clean", "markup/translation flag share", share("stray_markup", "untranslated"), "<=", max_flag_share),
    ]
    return pd.DataFrame([(report.name, c, m, float(np.round(v, 3)), f"{op} {limit:g}",
                          bool(v >= limit if op == ">=" else v <= limit)) for c, m, v, op, limit in checks],
                        columns=["dataset", "condition", "measure", "value", "limit", "ok"])


# --- Figures and the record browser (notebook 03) --------------------------------------------------------
LENGTH_TITLES = {"chars_output": "답 길이 (문자)", "tokens_output": "답 길이 (토큰, tiny 토크나이저)"}


def length_figure(*reports: Anatomy, columns: Sequence[str] = ("chars_output", "tokens_output")):
    """Histograms of answer lengths, one outline per report and one panel per column."""
    import matplotlib.pyplot as plt

    plots.use_korean_font()
    fig, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 3.2), dpi=72, squeeze=False, layout="tight")
    for ax, col in zip(axes[0], columns):
        for r in reports:
            ax.hist(r.lengths[col], bins=30, histtype="step", label=r.name)
        ax.set_title(LENGTH_TITLES.get(col, col))
    axes[0][0].legend(fontsize=7)
    return fig


def verb_figure(report: Anatomy, top: int = 10, per_verb: int = 3, title: str | None = None):
    """Sunburst of the ``top`` verbs/predicates and their most common objects (plotly)."""
    import plotly.express as px

    fig = px.sunburst(report.verb_counts(top=top, per_verb=per_verb), path=["verb", "object"], values="n",
                      title=title or f"{report.name}: 술어(동사)와 목적어")
    return plots.korean_layout(fig, width=520, height=420)


def browse(data: Mapping[str, Any], i: int = 0, dataset: str = "koalpaca_v1_0",
           template_name: str = "koalpaca_v1_1", eos_token: str = "</s>") -> str:
    """Row ``i`` of ``data[dataset]`` as the model sees it with ``template_name`` (:func:`render_marked`)."""
    return render_marked(data[dataset].iloc[i].to_dict(), template_name, eos_token=eos_token)


def record_browser(data: Mapping[str, Any], datasets: Sequence[str] | None = None,
                   template_name: str = "koalpaca_v1_1"):
    """ipywidgets over :func:`browse`: a row slider (spanning the chosen dataset), a dataset and a template menu."""
    import ipywidgets

    names = list(datasets or data)
    dataset = ipywidgets.Dropdown(options=names, value=names[0], description="dataset")
    row = ipywidgets.IntSlider(0, 0, len(data[names[0]]) - 1, description="i")
    dataset.observe(lambda change: setattr(row, "max", len(data[change.new]) - 1), names="value")
    menu = ipywidgets.Dropdown(options=list(_templates()), value=template_name, description="template")
    return ipywidgets.interactive(lambda i, dataset, template: print(browse(data, i, dataset, template)),
                                  i=row, dataset=dataset, template=menu)
