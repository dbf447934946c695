"""KoBEST (Korean Balanced Evaluation of Significant Tasks): data, prompts, scoring, metrics.

The five tasks of ``skt/kobest_v1`` (BoolQ, COPA, WiC, HellaSwag, SentiNeg) are multiple choice, scored as EleutherAI's
lm-evaluation-harness scores them: each choice's *log-likelihood* is the sum of the log-probabilities of its tokens
given the prompt; the prediction is the choice with the largest one. Two prompt/tokenization *variants*: ``"harness"``
(lm-evaluation-harness 0.4.x: prompts read from its own installed task files, so they equal the harness's by
construction) and ``"polyglot"`` (the older branch behind Polyglot-ko's published KoBEST table,
``lm_eval/tasks/kobest.py`` at EleutherAI/lm-evaluation-harness@35ff52e: Python only, so its prompts are written here,
once). They also differ in doc order and few-shot draws (:func:`build_items`) and in tokenization
(:func:`encode_pairs`).

Scoring the plain way, :func:`score_requests_plain`, runs the model once per (context, continuation). The fast way gives
the same numbers: requests whose model input starts with the same tokens form a :class:`PrefixGroup`, and
:func:`score_prefix_groups` runs each shared prefix once and scores all its continuations on its cached keys/values.
:func:`evaluate` takes the fast way and keeps a resumable cache.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib
import inspect
import io
import json
import logging
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from tqdm.auto import tqdm

from . import env, records

TASKS = ("boolq", "copa", "wic", "hellaswag", "sentineg")
SPLITS = ("train", "validation", "test")
VARIANTS = ("harness", "polyglot")
HUB_ID = "skt/kobest_v1"
HUB_REVISION = "main"  # NOT YET PINNED (load_task warns and names today's commit): set it with the hub at hand
# the harness's KoBEST task folder (YAML files + utils.py) as installed: lm-eval 0.4.13 from PyPI (constraints.txt;
# the wheel's RECORD holds each file's sha256)
HARNESS_MODULE = "lm_eval.tasks.kobest"
HARNESS_FEWSHOT_SEED = 1234  # lm_eval.simple_evaluate(fewshot_random_seed=1234)
POLYGLOT_SEED = 42  # the old evaluator: rnd.seed(42); rnd.shuffle(docs); rnd then draws the shots
DEFAULT_MAX_LENGTH = 2048  # lm-eval's fallback when neither config nor tokenizer says
_TOKENIZER_INFINITY = 1000000000000000019884624838656

SCHEMA: dict[str, dict[str, type]] = {  # field -> type, in the hub's column order
    "boolq": {"paragraph": str, "question": str, "label": int},
    "copa": {"premise": str, "question": str, "alternative_1": str, "alternative_2": str, "label": int},
    "wic": {"word": str, "context_1": str, "context_2": str, "label": int},
    "hellaswag": {"context": str, **{f"ending_{k}": str for k in range(1, 5)}, "label": int},
    "sentineg": {"sentence": str, "label": int},
}
N_CHOICES = {"boolq": 2, "copa": 2, "wic": 2, "hellaswag": 4, "sentineg": 2}
DESCRIPTION = {
    "boolq": "문단을 읽고 예/아니오 질문에 답하기 (reading comprehension)",
    "copa": "전제의 원인 또는 결과로 더 그럴듯한 문장 고르기 (causal reasoning)",
    "wic": "같은 단어가 두 문장에서 같은 뜻으로 쓰였는지 판단하기 (word sense)",
    "hellaswag": "상황 묘사 뒤에 이어질 가장 자연스러운 문장 고르기 (commonsense completion)",
    "sentineg": "부정 표현이 섞인 문장의 긍정/부정 판단하기 (sentiment with negation)",
}
COPA_CONNECTOR = {"원인": "왜냐하면", "결과": "그래서"}


class KoBESTDataError(records.RecordError):
    """A sample file or hub split does not have the ``skt/kobest_v1`` schema."""


def _check(kind: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"unknown KoBEST {kind} {value!r}; expected one of {', '.join(allowed)}")
    return value


# --------------------------------------------------------------------------- data
@dataclass
class KoBESTTask:
    """One task's splits as lists of dicts (the hub's columns), and where they came from."""

    name: str
    splits: dict[str, list[dict]]
    source: str

    def split(self, name: str) -> list[dict]:
        if name not in self.splits:
            raise KeyError(f"task {self.name!r} has no split {name!r}; has {', '.join(self.splits)}")
        return self.splits[name]

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.splits.items()}


def samples_dir() -> Path:
    """Our own samples: ``data/kobest/<task>/<split>.jsonl``."""
    return env.data_path("kobest")


def validate_rows(task: str, rows: Iterable[tuple[str, Any]], file: str = "") -> list[dict]:
    """``(where, row)`` pairs checked against the schema (at least one); ``file`` and ``where`` name a bad one."""
    schema, out = SCHEMA[task], []
    for where, row in rows:
        fail = functools.partial(KoBESTDataError, file, where)  # fail(field, message)
        if not isinstance(row, dict):
            raise fail(None, f"expected a record with fields {', '.join(schema)}, found {type(row).__name__}")
        for name, typ in schema.items():
            if name not in row:
                raise fail(name, f"missing (task {task} needs {', '.join(schema)})")
            value = row[name]
            if not (type(value) is int if typ is int else isinstance(value, str) and value.strip()):  # bool is no int
                raise fail(name, f"expected {'an integer' if typ is int else 'a non-empty string'}, found {value!r}")
        if not 0 <= row["label"] < N_CHOICES[task]:
            raise fail("label", f"expected 0..{N_CHOICES[task] - 1}, found {row['label']!r}")
        if task == "copa" and row["question"].strip() not in COPA_CONNECTOR:
            raise fail("question", f"expected '원인' or '결과', found {row['question']!r}")
        out.append({name: row[name] for name in schema})
    if not out:
        raise KoBESTDataError(file, "", None, "expected rows, found none")
    return out


def load_task(task: str, source: str | Path | None = None, *, profile: str | None = None) -> KoBESTTask:
    """Load one task. ``source``: a folder of split files (``<dir>/<task>/<split>.<suffix>`` or
    ``<dir>/<split>.<suffix>``, any suffix of :data:`helpers.records.FORMATS`), ``"hub"`` for ``skt/kobest_v1`` at
    :data:`HUB_REVISION`, or ``None``: our samples in the tiny profile, the hub in the real one (``profile``: None ->
    :func:`helpers.env.profile`'s default)."""
    _check("task", task, TASKS)
    if source is None:
        source = "hub" if env.profile(profile) == "real" else samples_dir()
    if str(source) != "hub":
        base = Path(source) / task if (Path(source) / task).is_dir() else Path(source)
        files = {s: sorted(p for p in base.glob(f"{s}.*") if p.suffix.lower() in records.FORMATS) for s in SPLITS}
        if twice := [str(p) for fs in files.values() if len(fs) > 1 for p in fs]:
            raise KoBESTDataError(base, "", None, f"expected one file per split, found {', '.join(twice)}")
        if not any(files.values()):
            raise FileNotFoundError(f"no {task} split files ({'/'.join(SPLITS)} with a suffix of "
                                    f"{', '.join(records.FORMATS)}) under {source}")
        return KoBESTTask(task, {s: validate_rows(task, records.read(fs[0], KoBESTDataError, types=SCHEMA[task]),
                                                  str(fs[0])) for s, fs in files.items() if fs}, str(source))
    import datasets

    rev = env.hub_commit(HUB_ID, HUB_REVISION, "dataset", pin="HUB_REVISION in helpers/kobest.py")
    with env.hub_errors(HUB_ID, rev):
        dd = datasets.load_dataset(HUB_ID, task, revision=rev)
    hub = f"{HUB_ID}@{rev}"
    rows = {s: [(f"row {i}", dict(r)) for i, r in enumerate(dd[s])] for s in SPLITS if s in dd}
    return KoBESTTask(task, {s: validate_rows(task, split, f"{hub} {task}/{s}") for s, split in rows.items()}, hub)


# --------------------------------------------------------------------------- prompts
@dataclass(frozen=True)
class Prompt:
    """One doc as asked: ``text`` (no answer), ``choices``, ``gold`` index, ``delimiter`` between text and a choice."""

    text: str
    choices: tuple[str, ...]
    gold: int
    delimiter: str = " "

    @property
    def continuations(self) -> tuple[str, ...]:  # what is scored after the context, one per choice
        return tuple(self.delimiter + c for c in self.choices)

    @property
    def solved(self) -> str:  # the doc with its gold answer, as a few-shot example
        return self.text + self.continuations[self.gold]


@functools.cache
def harness_config(task: str):
    """lm-evaluation-harness's own ``kobest_<task>.yaml`` as its ``TaskConfig`` (``!function``: its ``utils.py``)."""
    from lm_eval.config.task import TaskConfig

    utils = importlib.import_module(f"{HARNESS_MODULE}.utils")
    loader = type("TaskFileLoader", (yaml.SafeLoader,), {})
    loader.add_constructor(
        "!function", lambda loader, node: getattr(utils, loader.construct_scalar(node).removeprefix("utils.")))
    path = Path(utils.__file__).parent / f"kobest_{_check('task', task, TASKS)}.yaml"
    return TaskConfig(**yaml.load(path.read_text(encoding="utf-8"), loader))


@functools.cache
def _jinja(source: str):
    from lm_eval.utils import env as harness_jinja  # the harness's Jinja environment (StrictUndefined)

    return harness_jinja.from_string(source)


def _harness_field(spec, doc: dict):
    """A ``doc_to_*`` entry as lm-eval reads it: a function of the doc, a list, a column name or a Jinja template."""
    if callable(spec) or isinstance(spec, list):
        return spec(doc) if callable(spec) else spec
    return doc[spec] if spec in doc else _jinja(spec).render(**doc)


_YES_NO = ("아니오", "예")
POLYGLOT_PROMPTS = {  # task -> (doc -> text, doc -> choices); COPA's connector has one space (the harness two)
    "boolq": (lambda d: f"{d['paragraph']} 질문: {d['question']} 답변: ", lambda d: _YES_NO),
    "copa": (lambda d: f"{d['premise']} {COPA_CONNECTOR[d['question'].strip()]}",
             lambda d: (d["alternative_1"], d["alternative_2"])),
    "wic": (lambda d: f"문장1: {d['context_1']} 문장2: {d['context_2']} 두 문장에서 {d['word']}가 같은 뜻으로 쓰였나?",
            lambda d: _YES_NO),
    "hellaswag": (lambda d: f"문장: {d['context']}", lambda d: tuple(d[f"ending_{k}"] for k in range(1, 5))),
    "sentineg": (lambda d: f"문장: {d['sentence']} 긍부정:", lambda d: ("부정", "긍정")),
}


def prompts(task: str, docs: Sequence[dict], variant: str = "harness") -> list[Prompt]:
    """The prompts of ``docs`` (rows of one split) in ``variant`` (see the module docstring)."""
    if _check("variant", variant, VARIANTS) == "polyglot":
        text, choices = POLYGLOT_PROMPTS[_check("task", task, TASKS)]
        return [Prompt(text(d), tuple(choices(d)), int(d["label"])) for d in docs]
    cfg, docs = harness_config(task), list(docs)
    if cfg.process_docs is not None and docs:  # HellaSwag: adds query/choices columns to a datasets.Dataset
        import datasets

        bars_were_off = datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # a map over a few dozen rows needs no progress bar
        try:
            docs = list(cfg.process_docs(datasets.Dataset.from_list(docs)))
        finally:
            if not bars_were_off:
                datasets.enable_progress_bars()
    out = []
    for doc in docs:
        choices = _harness_field(cfg.doc_to_choice, doc)
        choices = ast.literal_eval(choices) if isinstance(choices, str) else choices
        target = _harness_field(cfg.doc_to_target, doc)  # "1" from a template, or the answer's text
        gold = int(target) if str(target).isdigit() else list(choices).index(target)
        out.append(Prompt(_harness_field(cfg.doc_to_text, doc), tuple(choices), gold, cfg.target_delimiter))
    return out


@dataclass(frozen=True)
class Item:
    """One evaluated doc: the full context (few-shot examples + question) and its prompt."""

    doc_id: int  # index in the test split (file order)
    context: str
    prompt: Prompt
    shots: tuple[int, ...]  # indices of the train docs used as examples


def build_items(data: KoBESTTask, n_shot: int = 0, variant: str = "harness", limit: int | None = None) -> list[Item]:
    """Contexts for the first ``limit`` test docs. ``harness``: test docs in file order, few-shot examples
    from ``train`` drawn by one ``random.Random(1234)`` consumed doc after doc; ``polyglot``: docs shuffled
    by ``random.Random(42)``, and the same generator then draws the examples."""
    if n_shot < 0:
        raise ValueError(f"n_shot must be >= 0, got {n_shot}")
    docs, pool = data.split("test"), data.split("train") if n_shot else []
    if n_shot > len(pool):
        raise ValueError(f"{n_shot}-shot needs {n_shot} train docs; {data.name} has {len(pool)}")
    order = list(range(len(docs)))
    rnd = random.Random(HARNESS_FEWSHOT_SEED if _check("variant", variant, VARIANTS) == "harness" else POLYGLOT_SEED)
    if variant == "polyglot":
        rnd.shuffle(order)
    order = order[: int(limit)] if limit is not None else order
    examples = prompts(data.name, pool, variant)
    between = harness_config(data.name).fewshot_delimiter if variant == "harness" else "\n\n"
    items = []
    for doc_id, prompt in zip(order, prompts(data.name, [docs[i] for i in order], variant), strict=True):
        shots = tuple(rnd.sample(range(len(pool)), n_shot)) if n_shot else ()
        items.append(Item(doc_id, "".join(examples[i].solved + between for i in shots) + prompt.text, prompt, shots))
    return items


# --------------------------------------------------------------------------- tokenization
def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]], variant: str = "harness") -> list[tuple[list, list]]:
    """Token ids of (context, continuation) pairs. ``harness``: trailing whitespace of the context moves to the
    continuation; the whole string is encoded and the continuation is what follows the context's own token count.
    ``polyglot``: both encoded separately. Each distinct string is encoded once, in one tokenizer call."""
    if not all(ctx for ctx, _ in pairs):
        raise ValueError("empty context: a KoBEST prompt always has text before the answer")
    if _check("variant", variant, VARIANTS) == "harness":  # (context, whole string) per pair
        pairs = [(ctx.rstrip(), ctx + cont) for ctx, cont in pairs]
    unique = list(dict.fromkeys(text for pair in pairs for text in pair))
    ids = dict(zip(unique, tokenizer(unique, add_special_tokens=False)["input_ids"], strict=True))
    if variant == "polyglot":
        return [(ids[ctx], ids[cont]) for ctx, cont in pairs]
    return [(ids[ctx], ids[whole][len(ids[ctx]):]) for ctx, whole in pairs]


def encode_pair(tokenizer, context: str, continuation: str, variant: str = "harness") -> tuple[list, list]:
    """Token ids of one (context, continuation) pair, as :func:`encode_pairs`."""
    return encode_pairs(tokenizer, [(context, continuation)], variant)[0]


def max_length(model, tokenizer) -> int:
    """The context window lm-eval assumes: the model's config, else the tokenizer's ``model_max_length``, else 2048."""
    cfg = getattr(model.config, "text_config", None) or model.config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        if getattr(cfg, attr, None) is not None:
            return int(getattr(cfg, attr))
    mml = getattr(tokenizer, "model_max_length", None)
    return int(mml) if mml is not None and mml != _TOKENIZER_INFINITY else DEFAULT_MAX_LENGTH


# --------------------------------------------------------------------------- scoring
def continuation_logprobs(model, context_ids: Sequence[int], continuation_ids: Sequence[int], max_len: int) -> list:
    """One forward pass, as lm-eval runs each request: the model reads the window
    ``(context + continuation)[-(max_len + 1):][:-1]`` (a long context loses tokens on the left); at
    each continuation position we read the log-probability of the token that actually comes next."""
    device = next(model.parameters()).device
    window = (list(context_ids) + list(continuation_ids))[-(max_len + 1):][:-1]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([window], device=device)).logits[0, -len(continuation_ids):]
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp[torch.arange(len(continuation_ids)), torch.tensor(continuation_ids, device=logp.device)].tolist()


def score_requests_plain(model, requests: Sequence[tuple[Sequence[int], Sequence[int]]], max_len: int) -> list[float]:
    """The log-likelihood of each (context ids, continuation ids) request, one forward pass each."""
    return [sum(continuation_logprobs(model, ctx, cont, max_len)) for ctx, cont in requests]


@dataclass
class PrefixGroup:
    """Requests whose model input starts with the same tokens: the ``prefix`` runs through the model
    once; each continuation, ``(request index, token ids)``, is scored on its cached keys/values."""

    prefix: tuple[int, ...]
    continuations: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)


def group_by_shared_prefix(requests: Sequence[tuple[Sequence[int], Sequence[int]]], max_len: int) -> list[PrefixGroup]:
    """Group requests by the context part of the window the model reads (:func:`continuation_logprobs`):
    how much of a long context is cut depends on the continuation's length."""
    groups: dict[tuple[int, ...], PrefixGroup] = {}
    for index, (ctx, cont) in enumerate(requests):
        if not ctx or not cont or len(cont) > max_len:
            raise ValueError(f"request {index}: {len(ctx)} context and {len(cont)} continuation tokens; "
                             f"need at least 1 of each and a continuation within max length {max_len}")
        prefix = tuple(ctx[max(0, len(ctx) + len(cont) - (max_len + 1)):])
        groups.setdefault(prefix, PrefixGroup(prefix)).continuations.append((index, tuple(cont)))
    return list(groups.values())


def score_prefix_groups(model, groups: Sequence[PrefixGroup], batch_size: int = 8, pad_id: int = 0,
                        on_batch=None) -> dict[int, float]:
    """The log-likelihood of every request in ``groups``, by request index: the fast way. Per batch of groups, one
    forward pass over the right-padded prefixes (keys/values cached; logits kept only at each prefix's last position,
    which predicts each continuation's first token), then one over all continuations but their last token on top of the
    cache (a mask hides the prefix padding; position ids continue each prefix); then ``on_batch(results)``."""
    device = next(model.parameters()).device
    accepted = set(inspect.signature(model.forward).parameters)
    cache_arg = "cache" if "cache" in accepted else "past_key_values"  # renamed in transformers 5
    out: dict[int, float] = {}
    groups = sorted(groups, key=lambda g: -len(g.prefix))  # similar lengths, little padding
    for b0 in range(0, len(groups), batch_size):
        batch = groups[b0:b0 + batch_size]
        lens = [len(g.prefix) for g in batch]
        width = max(lens)
        ids = torch.tensor([list(g.prefix) + [pad_id] * (width - len(g.prefix)) for g in batch])
        last = torch.tensor(lens) - 1
        kwargs: dict[str, Any] = {"use_cache": True}
        if "logits_to_keep" in accepted:  # a [batch, width, vocab] tensor is large for a real model
            kept = torch.unique(last)
            kwargs["logits_to_keep"], last = kept.to(device), torch.searchsorted(kept, last)
        with torch.no_grad():
            res = model(input_ids=ids.to(device), **kwargs)
        first = torch.log_softmax(res.logits[torch.arange(len(batch)), last.to(res.logits.device)].float(), dim=-1)
        rows = [(r, index, cont) for r, g in enumerate(batch) for index, cont in g.continuations]
        results = {index: float(first[r, cont[0]]) for r, index, cont in rows}
        longer = [row for row in rows if len(row[2]) > 1]
        if longer:
            span = max(len(cont) for _, _, cont in longer) - 1
            inputs = torch.tensor([list(cont[:-1]) + [pad_id] * (span + 1 - len(cont)) for _, _, cont in longer])
            mask = torch.tensor([[1] * lens[r] + [0] * (width - lens[r]) + [1] * span for r, _, _ in longer])
            positions = torch.stack([torch.arange(lens[r], lens[r] + span) for r, _, _ in longer])
            cache = getattr(res, "cache", None) or getattr(res, "past_key_values", None)
            cache.reorder_cache(torch.tensor([r for r, _, _ in longer], device=device))  # a row per continuation
            kwargs = {cache_arg: cache, "attention_mask": mask.to(device), "use_cache": False}
            if "position_ids" in accepted:
                kwargs["position_ids"] = positions.to(device)
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=inputs.to(device), **kwargs).logits.float(), dim=-1)
            for j, (_, index, cont) in enumerate(longer):
                steps = torch.arange(len(cont) - 1, device=logp.device)
                results[index] += float(logp[j, steps, torch.tensor(cont[1:], device=logp.device)].sum())
        out.update(results)
        if on_batch is not None:
            on_batch(results)
    return out


# --------------------------------------------------------------------------- metrics
def macro_f1(golds: Sequence[int], preds: Sequence[int]) -> float:
    """scikit-learn's ``f1_score(average="macro")`` as the harness aggregates KoBEST: over the classes present."""
    from sklearn.metrics import f1_score

    return float(f1_score(golds, preds, average="macro"))


def _macro_f1_along(golds, preds, axis: int = -1):
    """:func:`macro_f1` of many resamples at once (rows along ``axis``), for the bootstrap: per class
    F1 = 2TP / (2TP + FP + FN), averaged over the classes each resample contains."""
    golds, preds = np.moveaxis(golds, axis, -1)[..., None], np.moveaxis(preds, axis, -1)[..., None]
    is_gold, is_pred = golds == np.union1d(golds, preds), preds == np.union1d(golds, preds)  # [..., item, class]
    tp, fp, fn = (is_gold & is_pred).sum(-2), (~is_gold & is_pred).sum(-2), (is_gold & ~is_pred).sum(-2)
    return (2 * tp / np.maximum(2 * tp + fp + fn, 1)).sum(-1) / ((tp + fp + fn) > 0).sum(-1)


def metrics_from_samples(samples, task: str) -> dict[str, float]:
    if samples.empty:
        raise ValueError("no items")
    out = {"acc": float((samples["gold"] == samples["pred"]).mean()),
           "macro_f1": macro_f1(samples["gold"], samples["pred"])}
    if task == "hellaswag":
        out["acc_norm"] = float((samples["gold"] == samples["pred_norm"]).mean())
    return {**out, "n": len(samples)}


def bootstrap_ci(samples, task: str, metric: str = "acc", n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(point, low, high): a percentile bootstrap over docs (``scipy.stats.bootstrap``, ``n_boot`` draws)."""
    from scipy import stats

    golds, preds = samples["gold"].to_numpy(), samples["pred_norm" if metric == "acc_norm" else "pred"].to_numpy()
    statistic = _macro_f1_along if metric == "macro_f1" else lambda g, p, axis: np.mean(g == p, axis=axis)
    res = stats.bootstrap((golds, preds), statistic, paired=True, vectorized=True, n_resamples=n_boot,
                          confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    low, high = res.confidence_interval
    return float(metrics_from_samples(samples, task)[metric]), float(low), float(high)


# --------------------------------------------------------------------------- evaluate
@dataclass
class EvalResult:
    task: str
    n_shot: int
    variant: str
    metrics: dict[str, float]
    samples: Any = field(repr=False)  # pandas DataFrame, one row per doc
    info: dict = field(repr=False)


def _progress_disabled(progress: bool | None) -> bool:
    return not progress if progress is not None else env.in_ci() or os.environ.get("TQDM_DISABLE", "") not in ("", "0")


def model_key(model, tokenizer) -> str:
    """A short id of model and tokenizer: name, config, a fingerprint of a few tensors, the vocabulary."""
    h = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    params = list(model.parameters())
    for p in (params[0], params[len(params) // 2], params[-1]):
        h.update(p.detach().reshape(-1)[:4096].float().cpu().numpy().tobytes())
    h.update(json.dumps(tokenizer.convert_ids_to_tokens(list(range(min(len(tokenizer), 300)))) + [len(tokenizer)],
                        ensure_ascii=False).encode())
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(getattr(model.config, "_name_or_path", "")))[-40:].strip("_")
    return f"{name or 'model'}-{h.hexdigest()[:12]}"


def evaluate(model, tokenizer, task: str, n_shot: int = 0, source=None, limit: int | None = None,
             variant: str = "harness", *, batch_size: int = 8, cache: bool | str | Path = True,
             progress: bool | None = None, profile: str | None = None) -> EvalResult:
    """Score ``task``'s test docs with ``model`` at ``n_shot`` shots (``.samples``: one row per doc). ``cache``: True ->
    a file per (model, task, variant, shots) under :func:`helpers.env.cache_dir`, a path -> that file, False -> none. An
    interrupted run resumes there: each line holds a hash of one request's tokens and its log-likelihood. ``source``,
    ``profile``: as :func:`load_task`."""
    data = load_task(task, source, profile=profile)
    items = build_items(data, n_shot, variant, limit)
    max_len = max_length(model, tokenizer)
    requests = encode_pairs(tokenizer, [(it.context, c) for it in items for c in it.prompt.continuations], variant)
    hashes = [hashlib.sha1(json.dumps(r).encode()).hexdigest()[:16] for r in requests]
    name = f"{task}-{variant}-{n_shot}shot-test.jsonl"
    path = env.cache_dir() / "kobest" / model_key(model, tokenizer) / name if cache is True else cache or None
    path, cached = Path(path) if path else None, {}
    for line in path.read_text(encoding="utf-8").splitlines() if path and path.exists() else []:
        with contextlib.suppress(json.JSONDecodeError, KeyError, TypeError, ValueError):  # a line cut by a kill
            rec = json.loads(line)
            cached[rec["h"]] = float(rec["ll"])
    lls = [cached.get(h) for h in hashes]  # one request per (doc, choice), in item order
    todo = [k for k, ll in enumerate(lls) if ll is None]
    groups = group_by_shared_prefix([requests[k] for k in todo], max_len)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    bar = tqdm(total=len(requests), initial=len(requests) - len(todo), desc=f"kobest_{task} {n_shot}-shot",
               disable=_progress_disabled(progress), leave=False)

    def on_batch(results: dict[int, float]) -> None:  # append to the cache as each batch is done
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps({"h": hashes[todo[t]], "ll": ll}) + "\n" for t, ll in results.items())
                fh.flush()
                os.fsync(fh.fileno())
        bar.update(len(results))

    was_training = model.training
    model.eval()
    try:
        for t, ll in score_prefix_groups(model, groups, batch_size=batch_size, pad_id=pad, on_batch=on_batch).items():
            lls[todo[t]] = ll
    finally:
        bar.close()
        model.train(was_training)
    rows, start = [], 0
    for it in items:
        end = start + len(it.prompt.choices)
        ll, reqs, start = lls[start:end], requests[start:end], end
        row = {"doc": it.doc_id, "gold": it.prompt.gold, "pred": int(np.argmax(ll))}  # the first on ties
        row["correct"] = row["pred"] == it.prompt.gold
        if task == "hellaswag":  # acc_norm: log-likelihood per character of the choice
            row["pred_norm"] = int(np.argmax(np.array(ll) / [len(c) for c in it.prompt.choices]))
        rows.append({**row, **{f"ll_{j}": v for j, v in enumerate(ll)}, "ctx_tokens": len(reqs[0][0]),
                     "truncated": any(len(ctx) + len(cont) > max_len + 1 for ctx, cont in reqs)})
    samples = pd.DataFrame(rows)
    info = {"source": data.source, "max_length": max_len, "requests": len(requests), "prefix_runs": len(groups),
            "from_cache": len(requests) - len(todo), "cache_file": str(path) if path else None}
    return EvalResult(task, n_shot, variant, metrics_from_samples(samples, task), samples, info)


def compare(a: EvalResult, b: EvalResult) -> dict[str, Any]:
    """How run ``b`` (more shots, the other variant) differs from ``a`` on the docs both scored (matched by id):
    predictions that differ, the largest change of one choice's log-likelihood, ``a``'s smallest gap between its best
    and second-best choice (a change under half of it cannot flip a prediction), distinct answers per run."""
    ll = [c for c in a.samples.columns if c.startswith("ll_")]
    m = a.samples.merge(b.samples, on="doc", suffixes=("_a", "_b"))
    la, lb = m[[f"{c}_a" for c in ll]].to_numpy(), m[[f"{c}_b" for c in ll]].to_numpy()
    top2 = np.sort(la, axis=1)[:, -2:]
    return {"docs": len(m), "preds_differ": int((m["pred_a"] != m["pred_b"]).sum()),
            "max_abs_ll_change": float(np.abs(lb - la).max(initial=0.0)),
            "min_margin": float((top2[:, 1] - top2[:, 0]).min(initial=np.inf)),
            "a_answers": a.samples["pred"].nunique(), "b_answers": b.samples["pred"].nunique()}


# --------------------------------------------------------------------------- the lm-eval bridge
def lm_eval_group(task: str, data_dir: str | Path | None = None) -> dict:
    """lm-eval group ``kobest_ours_<task>``: the harness's own ``kobest_<task>`` on our samples (under ``data_dir``,
    default :func:`samples_dir`), offline. Only the data changes, and the F1 metric drops ``hf_evaluate`` (it would
    fetch a metric script from the hub). :func:`run_lm_eval` uses it; ``data/kobest/lm_eval/`` holds it as YAML."""
    files = {s: str(Path(data_dir or samples_dir().resolve()) / task / f"{s}.jsonl") for s in SPLITS}
    metrics = [{k: v for k, v in m.items() if k != "hf_evaluate"} for m in harness_config(task).metric_list]
    return {"group": f"kobest_ours_{task}", "task": [{
        "task": f"kobest_{task}", "task_alias": f"kobest_{task} (our samples)", "dataset_path": "json",
        "dataset_name": None, "dataset_kwargs": {"data_files": files}, "metric_list": metrics}]}


def lm_eval_command(model: str = "EleutherAI/polyglot-ko-1.3b", n_shot: int = 5, official: bool = True) -> str:
    """The shell command for official numbers (hub data) or for our samples (``official=False``)."""
    if official:
        return (f"lm_eval --model hf --model_args pretrained={model} --tasks {','.join(f'kobest_{t}' for t in TASKS)} "
                f"--num_fewshot {n_shot} --batch_size 8 --output_path results/")
    return (f"HF_HUB_OFFLINE=1 lm_eval --model hf --model_args pretrained={model} --include_path data/kobest/lm_eval "
            f"--tasks {','.join(f'kobest_ours_{t}' for t in TASKS)} --num_fewshot {n_shot} --batch_size 8")


def run_lm_eval(model, tokenizer, tasks: Iterable[str], n_shot: int = 0, limit: int | None = None,
                batch_size: int = 1, progress: bool | None = None) -> dict[str, dict]:
    """Run lm-evaluation-harness itself on our samples, offline: HFLM on this very model object, the groups of
    :func:`lm_eval_group`, its warnings muted (``progress=False``: its progress bars too). Per task: ``metrics``,
    ``lls`` (per doc, per choice), ``docs`` (doc ids) and ``contexts`` (one per doc)."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tasks = [_check("task", t, TASKS) for t in tasks]
    logger = logging.getLogger("lm_eval")
    with contextlib.ExitStack() as stack:
        stack.callback(logger.setLevel, logger.level)
        logger.setLevel(logging.ERROR)
        if _progress_disabled(progress):
            stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        harness_folder = Path(importlib.import_module(f"{HARNESS_MODULE}.utils").__file__).parent
        manager = TaskManager(include_path=[str(harness_folder)], include_defaults=False)  # not all 14,000 tasks
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device=str(model.device))
        out = lm_eval.simple_evaluate(model=lm, tasks=[lm_eval_group(t) for t in tasks], num_fewshot=n_shot,
                                      limit=limit, log_samples=True, task_manager=manager, bootstrap_iters=0)
    res = {}
    for t in tasks:
        samples = sorted(out["samples"][f"kobest_{t}"], key=lambda s: s["doc_id"])
        res[t] = {"metrics": {k.split(",")[0]: v for k, v in out["results"][f"kobest_{t}"].items()
                              if k.endswith(",none") and "stderr" not in k},
                  "lls": [[float(r[0]) for r in s["filtered_resps"]] for s in samples],
                  "docs": [s["doc_id"] for s in samples], "contexts": [s["arguments"][0][0] for s in samples]}
    return res


# --------------------------------------------------------------------------- figures
def token_logprobs(model, tokenizer, context: str, continuation: str, variant: str = "harness"):
    """Each continuation ``token`` of one request and its ``logprob`` (they sum to the request's log-likelihood)."""
    ctx, cont = encode_pair(tokenizer, context, continuation, variant)
    return pd.DataFrame({"token": [tokenizer.decode([t]) for t in cont],
                         "logprob": continuation_logprobs(model, ctx, cont, max_length(model, tokenizer))})


def token_logprob_figure(per_choice, gold: int, title: str = ""):
    """One panel per choice: its tokens' log-probabilities, the gold choice in blue, the sum in the title."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(per_choice), figsize=(5 * len(per_choice), 3), sharey=True, squeeze=False)
    for k, (ax, frame) in enumerate(zip(axes[0], per_choice, strict=True)):
        ax.bar(range(len(frame)), frame["logprob"], color="tab:blue" if k == gold else "tab:gray")
        ax.set_xticks(range(len(frame)), frame["token"], rotation=60, fontsize=8)
        ax.set_title(f"선택지 {k + 1}: 합 = {frame['logprob'].sum():.2f}" + (" (정답)" if k == gold else ""))
    axes[0, 0].set_ylabel("log p(토큰 | 앞 문맥)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def interval_figure(intervals, metric: str = "macro_f1", title: str = ""):
    """Each task's ``metric`` with its interval (``intervals``: by task, columns ``metric``, ``low``, ``high``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    point = intervals[metric]
    ax.errorbar(intervals.index, point, yerr=[point - intervals["low"], intervals["high"] - point], fmt="o", capsize=4)
    ax.set(ylim=(0, 1), ylabel=metric)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def published_figure(pub, task: str = "copa"):
    """Two panels of the published Polyglot-ko table (``catalog.survey("polyglot_ko_kobest")``) for ``task``: macro F1
    against parameters (one line per shot count) and against shots (one line per model)."""
    import matplotlib.pyplot as plt

    d = pub[pub["task"] == task]
    if d.empty:
        raise ValueError(f"no rows for task {task!r} in the published table; have {sorted(set(pub['task']))}")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.5))
    for n, g in d.sort_values("params_b").groupby("n_shot"):
        a1.plot(g["params_b"], g["macro_f1"], "o-", label=f"{n}-shot")
    a1.set(xscale="log", xlabel="파라미터 (B)", ylabel="macro F1")
    a1.legend(fontsize=8)
    a1.set_title(f"KoBEST {task}: 크기에 따른 점수 (공개 표)", fontsize=9)
    for m, g in d.sort_values("n_shot").groupby("model"):
        a2.plot(g["n_shot"].astype(str), g["macro_f1"], "o-", label=m.split("/")[-1])
    a2.set_xlabel("shot 수")
    a2.set_title(f"KoBEST {task}: shot 수에 따른 점수 (공개 표)", fontsize=9)
    a2.legend(fontsize=7)
    fig.tight_layout()
    return fig
