"""KoBEST (Korean Balanced Evaluation of Significant Tasks): data, prompts, scoring, metrics.

The five tasks of ``skt/kobest_v1`` -- BoolQ, COPA, WiC, HellaSwag, SentiNeg -- scored the way
EleutherAI's lm-evaluation-harness scores them: for every answer choice the sum of the
log-probabilities of the continuation tokens given the prompt, prediction = argmax.

Two prompt/tokenization *variants*:

``"harness"``
    lm-evaluation-harness 0.4.x (``lm_eval/tasks/kobest/*.yaml``): the evaluation split is
    ``test`` in file order; few-shot examples are drawn from ``train`` by one
    ``random.Random(1234)`` consumed doc after doc; an example is ``text + " " + answer + "\\n\\n"``;
    each continuation is ``" " + choice``; trailing spaces of the context move to the
    continuation and the pair is tokenized as the harness's ``_encode_pair`` does
    (whole string encoded, the context's token count cut off the front).
``"polyglot"``
    the older harness branch that produced Polyglot-ko's published KoBEST table
    (``lm_eval/tasks/kobest.py`` at EleutherAI/lm-evaluation-harness@35ff52e): same split, but the
    docs are shuffled with ``random.Random(42)`` and the *same* generator draws the few-shot
    examples; COPA's connector has one space (0.4 has two); context and continuation are
    tokenized separately, so BoolQ's ``"답변: "`` keeps its trailing space token.

The scorer is batched, runs each (possibly left-truncated) prompt prefix once and scores all its
choices from the cached keys/values, writes every log-likelihood to a resumable cache file, and
shows a progress bar (off in CI).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import env

TASKS = ("boolq", "copa", "wic", "hellaswag", "sentineg")
SPLITS = ("train", "validation", "test")
VARIANTS = ("harness", "polyglot")
SHOTS = (0, 5, 10, 50)

HUB_ID = "skt/kobest_v1"
# "main" means NOT YET PINNED: replace with the commit hash on a machine with hub access.
HUB_REVISION = "main"
HUB_URL = "https://huggingface.co/datasets/skt/kobest_v1"
HARNESS_URL = "https://github.com/EleutherAI/lm-evaluation-harness/tree/main/lm_eval/tasks/kobest"
POLYGLOT_URL = ("https://github.com/EleutherAI/lm-evaluation-harness/blob/"
                "35ff52e77435349f2c04a7eff701d6e34cd15d6e/lm_eval/tasks/kobest.py")

HARNESS_FEWSHOT_SEED = 1234  # lm_eval.simple_evaluate(fewshot_random_seed=1234)
POLYGLOT_SEED = 42  # old evaluator: random.Random(); rnd.seed(42); rnd.shuffle(docs)
DEFAULT_MAX_LENGTH = 2048  # lm-eval's fallback when neither config nor tokenizer says
_TOKENIZER_INFINITY = 1000000000000000019884624838656

# field -> expected Python type, in the hub's column order
SCHEMA: dict[str, dict[str, type]] = {
    "boolq": {"paragraph": str, "question": str, "label": int},
    "copa": {"premise": str, "question": str, "alternative_1": str, "alternative_2": str, "label": int},
    "wic": {"word": str, "context_1": str, "context_2": str, "label": int},
    "hellaswag": {"context": str, "ending_1": str, "ending_2": str, "ending_3": str, "ending_4": str,
                  "label": int},
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


class KoBESTDataError(ValueError):
    """A sample file or hub split does not have the ``skt/kobest_v1`` schema."""


# --------------------------------------------------------------------------- data


@dataclass
class KoBESTTask:
    """One task's splits as lists of dicts (the hub's columns)."""

    name: str
    splits: dict[str, list[dict]]
    source: str

    def __len__(self) -> int:
        return sum(len(v) for v in self.splits.values())

    def split(self, name: str) -> list[dict]:
        if name not in self.splits:
            raise KeyError(f"task {self.name!r} has no split {name!r}; has {', '.join(self.splits)}")
        return self.splits[name]

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.splits.items()}


def samples_dir() -> Path:
    """Our own samples: ``data/kobest/<task>/<split>.jsonl``."""
    return env.data_path("kobest")


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown KoBEST task {task!r}; expected one of {', '.join(TASKS)}")
    return task


def validate_row(task: str, row: Any, where: str) -> dict:
    """Check one row against the schema; ``where`` names file and line (or split and row)."""
    schema = SCHEMA[task]
    if not isinstance(row, dict):
        raise KoBESTDataError(f"{where}: expected a JSON object with fields {', '.join(schema)}, "
                              f"got {type(row).__name__}")
    for name, typ in schema.items():
        if name not in row:
            raise KoBESTDataError(f"{where}: missing field {name!r} (task {task} needs {', '.join(schema)})")
        value = row[name]
        if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise KoBESTDataError(f"{where}, field {name!r}: expected an integer, got {value!r}")
        if typ is str and (not isinstance(value, str) or not value.strip()):
            raise KoBESTDataError(f"{where}, field {name!r}: expected a non-empty string, got {value!r}")
    if not 0 <= row["label"] < N_CHOICES[task]:
        raise KoBESTDataError(f"{where}, field 'label': {row['label']!r} is not in 0..{N_CHOICES[task] - 1}")
    if task == "copa" and row["question"].strip() not in COPA_CONNECTOR:
        raise KoBESTDataError(f"{where}, field 'question': {row['question']!r} is not '원인' or '결과'")
    return {name: row[name] for name in schema}


def read_jsonl(path: str | Path, task: str) -> list[dict]:
    """Read and validate one split file."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise KoBESTDataError(f"{path}, line {no}: not valid JSON ({exc.msg})") from None
            rows.append(validate_row(task, obj, f"{path}, line {no}"))
    if not rows:
        raise KoBESTDataError(f"{path}: no rows")
    return rows


def _split_files(root: Path, task: str) -> dict[str, Path]:
    base = root / task if (root / task).is_dir() else root
    return {s: base / f"{s}.jsonl" for s in SPLITS if (base / f"{s}.jsonl").exists()}


def load_task(task: str, source: str | Path | None = None, *, profile: str | None = None) -> KoBESTTask:
    """Load one task.

    ``source``: a directory of JSONL files (``<dir>/<task>/<split>.jsonl`` or
    ``<dir>/<split>.jsonl``), ``"hub"`` for ``skt/kobest_v1`` at :data:`HUB_REVISION`, or
    ``None``: our samples in the tiny profile, the hub in the real profile.
    """
    _check_task(task)
    if source is None:
        source = "hub" if env.profile(profile) == "real" else samples_dir()
    if str(source) == "hub":
        return _load_hub(task)
    root = Path(source)
    files = _split_files(root, task)
    if not files:
        raise FileNotFoundError(f"no {task} split files (train/validation/test .jsonl) under {root}")
    return KoBESTTask(task, {s: read_jsonl(p, task) for s, p in files.items()}, str(root))


def _load_hub(task: str) -> KoBESTTask:
    import datasets

    try:
        dd = datasets.load_dataset(HUB_ID, task, revision=HUB_REVISION)
    except Exception as exc:  # noqa: BLE001 - say what to do, keep the cause
        raise KoBESTDataError(
            f"could not load {HUB_ID} (config {task!r}, revision {HUB_REVISION}) from the hub: {exc}. "
            f"If the hub's format changed (e.g. a loading script was replaced by parquet files), "
            f"download the splits, write them as JSONL with the fields {', '.join(SCHEMA[task])}, and "
            f"pass load_task({task!r}, source=<that folder>).") from exc
    splits = {}
    for s in SPLITS:
        if s not in dd:
            continue
        cols = set(dd[s].column_names)
        missing = [c for c in SCHEMA[task] if c not in cols]
        if missing:
            raise KoBESTDataError(
                f"{HUB_ID}@{HUB_REVISION} config {task!r} split {s!r}: the hub's format changed, columns "
                f"{sorted(cols)} lack {missing}; this module expects {list(SCHEMA[task])}")
        splits[s] = [validate_row(task, dict(r), f"{HUB_ID} {task}/{s}, row {i}") for i, r in enumerate(dd[s])]
    return KoBESTTask(task, splits, f"{HUB_ID}@{HUB_REVISION}")


# --------------------------------------------------------------------------- prompts


@dataclass(frozen=True)
class Prompt:
    """How one doc is asked: ``text`` (no answer), the ``choices`` as scored continuations,
    the ``gold`` index, and the ``answer`` appended when the doc is a few-shot example."""

    text: str
    choices: tuple[str, ...]  # raw choice strings (for acc_norm's character lengths)
    continuations: tuple[str, ...]  # what is scored after the context
    gold: int
    answer: str  # text + answer is a solved few-shot example


def _raw_choices(task: str, doc: dict) -> list[str]:
    if task in ("boolq", "wic"):
        return ["아니오", "예"]
    if task == "sentineg":
        return ["부정", "긍정"]
    if task == "copa":
        return [doc["alternative_1"], doc["alternative_2"]]
    return [doc["ending_1"], doc["ending_2"], doc["ending_3"], doc["ending_4"]]


def doc_prompt(task: str, doc: dict, variant: str = "harness") -> Prompt:
    """The prompt of one doc in ``variant`` (see the module docstring)."""
    _check_task(task)
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if task == "boolq":
        text = f"{doc['paragraph']} 질문: {doc['question']} 답변: "
    elif task == "copa":
        conn = COPA_CONNECTOR[doc["question"].strip()]
        # 0.4.x: f"{premise} {' ' + connector}" -> two spaces; the old branch: one space
        text = f"{doc['premise']}  {conn}" if variant == "harness" else f"{doc['premise']} {conn}"
    elif task == "wic":
        text = f"문장1: {doc['context_1']} 문장2: {doc['context_2']} 두 문장에서 {doc['word']}가 같은 뜻으로 쓰였나?"
    elif task == "hellaswag":
        text = f"문장: {doc['context']}"
    else:
        text = f"문장: {doc['sentence']} 긍부정:"
    choices = tuple(_raw_choices(task, doc))
    conts = tuple(" " + c for c in choices)
    gold = int(doc["label"])
    return Prompt(text, choices, conts, gold, " " + choices[gold])


@dataclass(frozen=True)
class Item:
    """One evaluated doc: the full context (few-shot examples + question) and its choices."""

    doc_id: int  # index in the evaluation split (file order)
    context: str
    prompt: Prompt
    shots: tuple[int, ...]  # indices of the train docs used as examples


def build_items(data: KoBESTTask, n_shot: int = 0, variant: str = "harness", limit: int | None = None,
                split: str = "test", fewshot_split: str = "train") -> list[Item]:
    """Contexts for the first ``limit`` docs, with few-shot examples drawn as ``variant`` draws them."""
    if n_shot < 0:
        raise ValueError(f"n_shot must be >= 0, got {n_shot}")
    docs = list(enumerate(data.split(split)))
    pool = data.split(fewshot_split) if n_shot else []
    if n_shot > len(pool):
        raise ValueError(f"{n_shot}-shot needs {n_shot} {fewshot_split} docs; {data.name} has {len(pool)}")
    if variant == "harness":
        rnd = random.Random(HARNESS_FEWSHOT_SEED)
    elif variant == "polyglot":
        rnd = random.Random()
        rnd.seed(POLYGLOT_SEED)
        rnd.shuffle(docs)  # the old evaluator shuffles the docs, then samples shots with the same rnd
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if limit is not None:
        docs = docs[: int(limit)]
    pool_idx = list(range(len(pool)))
    items = []
    for doc_id, doc in docs:
        shots = tuple(rnd.sample(pool_idx, n_shot)) if n_shot else ()
        examples = "".join(
            (p := doc_prompt(data.name, pool[i], variant)).text + p.answer + "\n\n" for i in shots)
        prompt = doc_prompt(data.name, doc, variant)
        items.append(Item(doc_id, examples + prompt.text, prompt, shots))
    return items


def render_example(task: str, n_shot: int = 1, variant: str = "harness", source=None, index: int = 0) -> str:
    """The full context of test doc ``index`` followed by its gold continuation (for display)."""
    data = load_task(task, source)
    items = build_items(data, n_shot, variant, limit=index + 1)
    item = items[index]
    return item.context + item.prompt.continuations[item.prompt.gold]


# --------------------------------------------------------------------------- tokenization


def encode_pair(tokenizer, context: str, continuation: str, variant: str = "harness") -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation) as the harness variant splits them.

    ``harness``: trailing whitespace of the context moves to the continuation; the whole string
    is encoded and the continuation is what follows the context's own token count.
    ``polyglot``: both encoded separately. An empty context becomes the BOS (else EOS) token.
    """

    def enc(s: str) -> list[int]:
        return list(tokenizer.encode(s, add_special_tokens=False))

    if context == "":
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if variant == "polyglot":
            return [tokenizer.eos_token_id], enc(continuation)
        cont = enc(continuation)
        return ([prefix], cont) if cont[:1] != [prefix] else (cont[:1], cont[1:])
    if variant == "polyglot":
        return enc(context), enc(continuation)
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = enc(context + continuation)
    ctx = enc(context)
    return ctx, whole[len(ctx):]


def max_length(model, tokenizer) -> int:
    """The context window lm-eval assumes: config ``n_positions`` / ``max_position_embeddings`` /
    ``n_ctx``, else the tokenizer's ``model_max_length``, else 2048."""
    cfg = getattr(model.config, "text_config", None) or model.config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(cfg, attr, None)
        if value is not None:
            return int(value)
    mml = getattr(tokenizer, "model_max_length", None)
    if mml is not None and mml != _TOKENIZER_INFINITY:
        return int(mml)
    return DEFAULT_MAX_LENGTH


# --------------------------------------------------------------------------- scoring


@dataclass
class _Unit:
    """A prefix (the window's context part) shared by one or more continuations."""

    prefix: tuple[int, ...]
    conts: list[tuple[tuple[int, int], tuple[int, ...]]] = field(default_factory=list)  # ((item, choice), ids)


def plan_units(requests: Sequence[tuple[list[int], list[int]]], keys: Sequence[Any], max_len: int) -> list[_Unit]:
    """Group requests by the token window the model will see.

    lm-eval feeds ``(ctx + cont)[-(max_len + 1):][:-1]``: a long context loses tokens on the left,
    and how many depends on the continuation's length. Requests whose windows start at the same
    context token share that prefix; each distinct prefix is run once.
    """
    units: dict[tuple[int, ...], _Unit] = {}
    for key, (ctx, cont) in zip(keys, requests, strict=True):
        if not ctx or not cont:
            raise ValueError(f"request {key}: empty context or continuation tokens")
        if len(cont) > max_len:
            raise ValueError(f"request {key}: continuation of {len(cont)} tokens exceeds max length {max_len}")
        start = max(0, len(ctx) + len(cont) - (max_len + 1))
        prefix = tuple(ctx[start:])
        units.setdefault(prefix, _Unit(prefix)).conts.append((key, tuple(cont)))
    return list(units.values())


def _accepts(model, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def score_units(model, units: Sequence[_Unit], batch_size: int = 8, pad_id: int = 0, on_batch=None) -> dict:
    """Sum of continuation log-probabilities for every ((item, choice), ids) in ``units``.

    Per batch of prefixes: one forward over the right-padded prefixes (keys/values cached,
    logits kept only at each prefix's last position), then one forward over all continuations
    (minus their last token) on top of the cache, with an attention mask hiding the prefix
    padding and position ids that continue each prefix. ``on_batch(results)`` is called after
    every batch (for the resumable cache and the progress bar).
    """
    import torch

    device = next(model.parameters()).device
    keep_ok = _accepts(model, "logits_to_keep")
    pos_ok = _accepts(model, "position_ids")
    cache_arg = "cache" if _accepts(model, "cache") else "past_key_values"  # transformers >= 5.x renamed it
    out: dict = {}
    order = sorted(range(len(units)), key=lambda i: -len(units[i].prefix))
    for b0 in range(0, len(order), batch_size):
        batch = [units[i] for i in order[b0:b0 + batch_size]]
        lens = [len(u.prefix) for u in batch]
        pmax = max(lens)
        ids = torch.full((len(batch), pmax), pad_id, dtype=torch.long)
        for r, u in enumerate(batch):
            ids[r, : lens[r]] = torch.tensor(u.prefix)
        last = torch.tensor([n - 1 for n in lens])
        with torch.no_grad():
            kwargs: dict[str, Any] = {"use_cache": True}
            uniq = torch.unique(last)
            if keep_ok:
                kwargs["logits_to_keep"] = uniq.to(device)
            res = model(input_ids=ids.to(device), **kwargs)
            logits = res.logits.float()
            if keep_ok:
                col = torch.searchsorted(uniq, last)
                first = logits[torch.arange(len(batch)), col.to(logits.device)]
            else:
                first = logits[torch.arange(len(batch)), last.to(logits.device)]
            first = torch.log_softmax(first, dim=-1)  # [B, V]: predicts each continuation's 1st token
            rows = [(r, key, cont) for r, u in enumerate(batch) for key, cont in u.conts]
            results = {key: float(first[r, cont[0]]) for r, key, cont in rows}
            longer = [(r, key, cont) for r, key, cont in rows if len(cont) > 1]
            if longer:
                cmax = max(len(c) - 1 for _, _, c in longer)
                inp = torch.full((len(longer), cmax), pad_id, dtype=torch.long)
                mask = torch.zeros((len(longer), pmax + cmax), dtype=torch.long)
                pos = torch.zeros((len(longer), cmax), dtype=torch.long)
                for j, (r, _, cont) in enumerate(longer):
                    inp[j, : len(cont) - 1] = torch.tensor(cont[:-1])
                    mask[j, : lens[r]] = 1
                    mask[j, pmax:] = 1
                    pos[j] = torch.arange(lens[r], lens[r] + cmax)
                cache = getattr(res, "cache", None) or getattr(res, "past_key_values", None)
                cache.reorder_cache(torch.tensor([r for r, _, _ in longer], device=device))
                kw2: dict[str, Any] = {cache_arg: cache, "attention_mask": mask.to(device),
                                       "use_cache": False}
                if pos_ok:
                    kw2["position_ids"] = pos.to(device)
                lp = torch.log_softmax(model(input_ids=inp.to(device), **kw2).logits.float(), dim=-1)
                for j, (_, key, cont) in enumerate(longer):
                    tgt = torch.tensor(cont[1:], device=lp.device)
                    results[key] += float(lp[j, torch.arange(len(cont) - 1, device=lp.device), tgt].sum())
        out.update(results)
        if on_batch is not None:
            on_batch(results)
    return out


def score_requests_plain(model, requests: Sequence[tuple[list[int], list[int]]], max_len: int) -> list[float]:
    """The textbook version, one full forward per request (what lm-eval does); for tests and
    for reading: log-softmax over ``(ctx + cont)[-(max_len+1):][:-1]``, summed at the continuation."""
    import torch

    device = next(model.parameters()).device
    out = []
    for ctx, cont in requests:
        window = (list(ctx) + list(cont))[-(max_len + 1):][:-1]
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([window], device=device)).logits[0].float(), -1)
        n = len(cont)
        pos = torch.arange(len(window) - n, len(window), device=device)
        out.append(float(logp[pos, torch.tensor(cont, device=device)].sum()))
    return out


# --------------------------------------------------------------------------- cache


def model_key(model, tokenizer=None) -> str:
    """A short id of the weights: name, config and a fingerprint of a few tensors."""
    import torch

    h = hashlib.sha256()
    h.update(str(getattr(model.config, "_name_or_path", "")).encode())
    h.update(model.config.to_json_string(use_diff=False).encode())
    params = list(model.parameters())
    for p in (params[0], params[len(params) // 2], params[-1]):
        flat = p.detach().reshape(-1)[:4096].to(torch.float32).cpu()
        h.update(flat.numpy().tobytes())
    if tokenizer is not None:
        h.update(str(len(tokenizer)).encode())
        h.update(json.dumps(tokenizer.convert_ids_to_tokens(list(range(min(len(tokenizer), 300)))),
                            ensure_ascii=False).encode())
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(getattr(model.config, "_name_or_path", "model")))[-40:]
    return f"{name.strip('_') or 'model'}-{h.hexdigest()[:12]}"


def _req_hash(ctx: Sequence[int], cont: Sequence[int]) -> str:
    return hashlib.sha1(json.dumps([list(ctx), list(cont)]).encode()).hexdigest()[:16]


class LoglikCache:
    """Per-request log-likelihoods in one JSONL file per (model, task, variant, shots, split).

    Lines are appended and flushed after each batch, so an interrupted run (Ctrl-C, a lost
    kernel) resumes where it stopped. Each line carries a hash of the request's token ids; a
    line whose request changed (other data, other prompt) is ignored.
    """

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.entries: dict[tuple[int, int], tuple[str, float]] = {}
        if self.path and self.path.exists():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                        self.entries[(int(rec["doc"]), int(rec["choice"]))] = (rec["h"], float(rec["ll"]))
                    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                        continue  # a line cut by an interruption

    def get(self, key: tuple[int, int], h: str) -> float | None:
        got = self.entries.get(key)
        return got[1] if got and got[0] == h else None

    def add(self, values: dict[tuple[int, int], tuple[str, float]]) -> None:
        self.entries.update(values)
        if not self.path or not values:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            for (doc, choice), (h, ll) in values.items():
                fh.write(json.dumps({"doc": doc, "choice": choice, "h": h, "ll": ll}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def cache_path(model_id: str, task: str, variant: str, n_shot: int, split: str = "test") -> Path:
    return env.cache_dir() / "kobest" / model_id / f"{task}-{variant}-{n_shot}shot-{split}.jsonl"


# --------------------------------------------------------------------------- metrics


def accuracy(golds: Sequence[int], preds: Sequence[int]) -> float:
    if not golds:
        raise ValueError("no items")
    return sum(int(g == p) for g, p in zip(golds, preds, strict=True)) / len(golds)


def macro_f1(golds: Sequence[int], preds: Sequence[int]) -> float:
    """Unweighted mean over classes of F1 -- the classes being those in golds or preds
    (what ``sklearn.metrics.f1_score(average="macro")`` does, as the harness aggregates it);
    a class with no true and no predicted positives cannot occur, one with 0 precision and
    recall scores 0."""
    if not golds:
        raise ValueError("no items")
    labels = sorted(set(golds) | set(preds))
    scores = []
    for c in labels:
        tp = sum(1 for g, p in zip(golds, preds, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(golds, preds, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(golds, preds, strict=True) if g == c and p != c)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def _argmax(values: Sequence[float]) -> int:
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best  # first index on ties, as numpy


def metrics_from_samples(samples, task: str) -> dict[str, float]:
    golds, preds = list(samples["gold"]), list(samples["pred"])
    out = {"acc": accuracy(golds, preds), "macro_f1": macro_f1(golds, preds)}
    if task == "hellaswag":
        out["acc_norm"] = accuracy(golds, list(samples["pred_norm"]))
    out["n"] = len(golds)
    return out


def bootstrap_ci(samples, task: str, metric: str = "acc", n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(point, low, high): percentile bootstrap over items."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(samples)
    point = metrics_from_samples(samples, task)[metric]
    gold = samples["gold"].to_numpy()
    pred = samples["pred_norm" if metric == "acc_norm" else "pred"].to_numpy()
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        g, p = gold[idx].tolist(), pred[idx].tolist()
        stats.append(macro_f1(g, p) if metric == "macro_f1" else accuracy(g, p))
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(point), float(lo), float(hi)


# --------------------------------------------------------------------------- evaluate


@dataclass
class EvalResult:
    task: str
    n_shot: int
    variant: str
    metrics: dict[str, float]
    samples: Any  # pandas DataFrame, one row per doc
    info: dict

    def __repr__(self) -> str:
        m = ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in self.metrics.items())
        return f"EvalResult({self.task}, {self.n_shot}-shot, {self.variant}: {m})"


def _progress_disabled(progress: bool | None) -> bool:
    if progress is not None:
        return not progress
    return env.in_ci() or os.environ.get("TQDM_DISABLE", "") not in ("", "0")


def evaluate(model, tokenizer, task: str, n_shot: int = 0, source=None, limit: int | None = None,
             variant: str = "harness", *, split: str = "test", batch_size: int = 8,
             cache: bool | str | Path = True, model_id: str | None = None,
             progress: bool | None = None, data: KoBESTTask | None = None) -> EvalResult:
    """Score ``task`` with ``model`` at ``n_shot`` shots.

    ``cache``: True -> a file under :func:`helpers.env.cache_dir`; a path -> that file;
    False -> none. ``model_id`` names the cache folder (default :func:`model_key`).
    Returns :class:`EvalResult` with ``.metrics`` and ``.samples`` (a DataFrame).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    _check_task(task)
    data = data or load_task(task, source)
    items = build_items(data, n_shot, variant, limit, split=split)
    max_len = max_length(model, tokenizer)
    keys, reqs = [], []
    for i, it in enumerate(items):
        for j, cont in enumerate(it.prompt.continuations):
            keys.append((i, j))
            reqs.append(encode_pair(tokenizer, it.context, cont, variant))
    hashes = {k: _req_hash(*r) for k, r in zip(keys, reqs, strict=True)}
    mid = model_id or model_key(model, tokenizer)
    if cache is True:
        store = LoglikCache(cache_path(mid, task, variant, n_shot, split))
    else:
        store = LoglikCache(cache or None)
    lls: dict[tuple[int, int], float] = {}
    todo_keys, todo_reqs = [], []
    for k, r in zip(keys, reqs, strict=True):
        got = store.get((items[k[0]].doc_id, k[1]), hashes[k])
        if got is None:
            todo_keys.append(k)
            todo_reqs.append(r)
        else:
            lls[k] = got
    units = plan_units(todo_reqs, todo_keys, max_len)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    bar = tqdm(total=len(keys), initial=len(keys) - len(todo_keys), desc=f"kobest_{task} {n_shot}-shot",
               disable=_progress_disabled(progress), leave=False)

    def on_batch(res: dict) -> None:
        store.add({(items[k[0]].doc_id, k[1]): (hashes[k], v) for k, v in res.items()})
        bar.update(len(res))

    was_training = model.training
    model.eval()
    try:
        lls.update(score_units(model, units, batch_size=batch_size, pad_id=pad, on_batch=on_batch))
    finally:
        bar.close()
        model.train(was_training)
    rows = []
    for i, it in enumerate(items):
        ll = [lls[(i, j)] for j in range(len(it.prompt.continuations))]
        pred = _argmax(ll)
        row = {"doc": it.doc_id, "gold": it.prompt.gold, "pred": pred, "correct": pred == it.prompt.gold}
        if task == "hellaswag":
            row["pred_norm"] = _argmax([v / len(c) for v, c in zip(ll, it.prompt.choices, strict=True)])
        row.update({f"ll_{j}": v for j, v in enumerate(ll)})
        row["ctx_tokens"] = len(reqs[keys.index((i, 0))][0])
        row["truncated"] = any(len(reqs[keys.index((i, j))][0]) + len(reqs[keys.index((i, j))][1]) > max_len + 1
                               for j in range(len(ll)))
        rows.append(row)
    samples = pd.DataFrame(rows)
    info = {"source": data.source, "split": split, "model": mid, "max_length": max_len,
            "requests": len(keys), "from_cache": len(keys) - len(todo_keys), "prefix_runs": len(units),
            "cache_file": str(store.path) if store.path else None}
    return EvalResult(task, n_shot, variant, metrics_from_samples(samples, task), samples, info)


# --------------------------------------------------------------------------- the lm-eval bridge

_YAML_HEAD = """# lm-evaluation-harness 0.4.x task for OUR KoBEST samples (data/kobest/{task}/*.jsonl), offline.
# Generated by helpers.kobest.write_lm_eval_tasks(); prompts as lm_eval/tasks/kobest/kobest_{task}.yaml
# ({url}), written with Jinja instead of its utils.py; the hub's hf_evaluate option dropped (offline).
"""

_YAML_PROMPTS = {
    "boolq": ('"{{paragraph}} 질문: {{question}} 답변: "', '"{{label}}"', '["아니오", "예"]'),
    "copa": ("\"{{premise}}  {{ {'원인': '왜냐하면', '결과': '그래서'}[question.strip()] }}\"",
             '"{{label}}"', '"{{[alternative_1, alternative_2]}}"'),
    "wic": ('"문장1: {{context_1}} 문장2: {{context_2}} 두 문장에서 {{word}}가 같은 뜻으로 쓰였나?"', '"{{label}}"',
            '["아니오", "예"]'),
    "hellaswag": ('"문장: {{context}}"', '"{{label}}"', '"{{[ending_1, ending_2, ending_3, ending_4]}}"'),
    "sentineg": ('"문장: {{sentence}} 긍부정:"', '"{{label}}"', '["부정", "긍정"]'),
}

_METRICS_PY = '''"""Macro F1 for the local KoBEST tasks (lm-eval aggregation): sklearn's average="macro"."""


def macro_f1(items):
    from sklearn.metrics import f1_score

    golds = [g for g, _ in items]
    preds = [p for _, p in items]
    return f1_score(golds, preds, average="macro")
'''


def lm_eval_task_name(task: str) -> str:
    return f"kobest_ours_{_check_task(task)}"


def write_lm_eval_tasks(dest: str | Path, data_dir: str | Path | None = None, relative: bool = False) -> Path:
    """Write lm-eval task YAMLs (+ a small ``metrics.py``) pointing at our JSONL samples.

    ``relative=True`` writes repo-relative data paths (``data/kobest/...``: run lm-eval from the
    repository root); otherwise absolute paths.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = Path(data_dir) if data_dir else samples_dir()
    for task in TASKS:
        files = {}
        for s in SPLITS:
            p = root / task / f"{s}.jsonl"
            files[s] = (f"data/kobest/{task}/{s}.jsonl" if relative else str(p.resolve()))
        text, target, choice = _YAML_PROMPTS[task]
        metrics = ["  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"]
        if task == "hellaswag":
            metrics.append("  - metric: acc_norm\n    aggregation: mean\n    higher_is_better: true\n")
        metrics.append("  - metric: f1\n    aggregation: !function metrics.macro_f1\n    higher_is_better: true\n")
        body = (
            _YAML_HEAD.format(task=task, url=HARNESS_URL)
            + f"task: {lm_eval_task_name(task)}\n"
            + "dataset_path: json\n"
            + "dataset_kwargs:\n  data_files:\n"
            + "".join(f"    {s}: {json.dumps(files[s])}\n" for s in SPLITS)
            + "output_type: multiple_choice\n"
            + "training_split: train\nvalidation_split: validation\ntest_split: test\n"
            + f"doc_to_text: {text}\ndoc_to_target: {target}\ndoc_to_choice: {choice}\n"
            + "metric_list:\n" + "".join(metrics)
            + "metadata:\n  version: 1.0\n"
        )
        (dest / f"kobest_ours_{task}.yaml").write_text(body, encoding="utf-8")
    (dest / "metrics.py").write_text(_METRICS_PY, encoding="utf-8")
    return dest


def lm_eval_command(model: str = "EleutherAI/polyglot-ko-1.3b", n_shot: int = 5, official: bool = True) -> str:
    """The shell command for official numbers (hub data) or for our samples (``official=False``)."""
    if official:
        return (f"lm_eval --model hf --model_args pretrained={model} "
                f"--tasks kobest_boolq,kobest_copa,kobest_wic,kobest_hellaswag,kobest_sentineg "
                f"--num_fewshot {n_shot} --batch_size 8 --output_path results/")
    tasks = ",".join(lm_eval_task_name(t) for t in TASKS)
    return (f"HF_HUB_OFFLINE=1 lm_eval --model hf --model_args pretrained={model} "
            f"--include_path data/kobest/lm_eval --tasks {tasks} --num_fewshot {n_shot} --batch_size 8")


def run_lm_eval(model, tokenizer, tasks: Iterable[str], n_shot: int = 0, limit: int | None = None,
                batch_size: int = 1, include_path: str | Path | None = None) -> dict[str, dict]:
    """Run lm-evaluation-harness itself, offline, on our samples.

    Returns per task ``{"metrics": {...}, "lls": [[ll per choice] per doc], "docs": [doc ids]}``.
    """
    import tempfile

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tasks = [_check_task(t) for t in tasks]
    with tempfile.TemporaryDirectory(prefix="kobest-lmeval-") as tmp:
        path = include_path or write_lm_eval_tasks(tmp)
        tm = TaskManager(include_path=str(path), include_defaults=False)
        device = str(next(model.parameters()).device)
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device=device)
        out = lm_eval.simple_evaluate(model=lm, tasks=[lm_eval_task_name(t) for t in tasks],
                                      num_fewshot=n_shot, limit=limit, log_samples=True, task_manager=tm,
                                      bootstrap_iters=0, verbosity="ERROR")
    res = {}
    for t in tasks:
        name = lm_eval_task_name(t)
        samples = sorted(out["samples"][name], key=lambda s: s["doc_id"])
        lls = [[float(r[0]) for r in s["filtered_resps"]] for s in samples]
        res[t] = {"metrics": {k.split(",")[0]: v for k, v in out["results"][name].items()
                              if k.endswith(",none") and "stderr" not in k},
                  "lls": lls, "docs": [s["doc_id"] for s in samples],
                  "contexts": [s["arguments"][0][0] if isinstance(s["arguments"][0], (list, tuple))
                               else s["arguments"]["gen_args_0"]["arg_0"] for s in samples]}
    return res


def token_logprobs(model, tokenizer, context: str, continuation: str, variant: str = "harness"):
    """Per-token view of one request: each continuation token and its log-probability
    (the rows sum to the request's log-likelihood). A DataFrame with ``token`` and ``logprob``."""
    import pandas as pd
    import torch

    ctx, cont = encode_pair(tokenizer, context, continuation, variant)
    window = (ctx + cont)[-(max_length(model, tokenizer) + 1):][:-1]
    device = next(model.parameters()).device
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([window], device=device)).logits[0].float(), -1)
    pos = range(len(window) - len(cont), len(window))
    lps = [float(logp[p, t]) for p, t in zip(pos, cont, strict=True)]
    return pd.DataFrame({"token": [tokenizer.decode([t]) for t in cont], "logprob": lps})


def published_figure(pub, task: str = "copa"):
    """Two panels of the published Polyglot-ko table (``catalog.survey("polyglot_ko_kobest")``) for
    ``task``: macro F1 against parameters (one line per shot count) and against shots (one line per
    model). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    d = pub[pub["task"] == task]
    if d.empty:
        raise ValueError(f"no rows for task {task!r} in the published table; have {sorted(set(pub['task']))}")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.5))
    for n, g in d.groupby("n_shot"):
        g = g.sort_values("params_b")
        a1.plot(g["params_b"], g["macro_f1"], "o-", label=f"{n}-shot")
    a1.set_xscale("log")
    a1.set_xlabel("파라미터 (B)")
    a1.set_ylabel("macro F1")
    a1.legend(fontsize=8)
    a1.set_title(f"KoBEST {task}: 크기에 따른 점수 (공개 표)", fontsize=9)
    for m, g in d.groupby("model"):
        g = g.sort_values("n_shot")
        a2.plot(g["n_shot"].astype(str), g["macro_f1"], "o-", label=m.split("/")[-1])
    a2.set_xlabel("shot 수")
    a2.set_title(f"KoBEST {task}: shot 수에 따른 점수 (공개 표)", fontsize=9)
    a2.legend(fontsize=7)
    fig.tight_layout()
    return fig
