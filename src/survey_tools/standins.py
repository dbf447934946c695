"""Building the tiny profile's stand-ins: fixture generation that makes the offline ``tiny`` profile possible.

``helpers.zoo.load`` imports this module on a stand-in's first use; ``python -m survey_tools.zoo build``
(``make tiny``) builds them ahead of time. For each registry entry:

* a byte-level BPE tokenizer (4,096 tokens), the ``ko`` or ``en`` recipe, trained on ``data/corpus/``;
* a model with the *same config class* as the real one (GPT-NeoX, LLaMA, BLOOM, Qwen2), ``TINY_DEFAULTS``
  plus the entry's ``tiny:`` overrides, pre-trained briefly on that text so losses and generations mean
  something; an instruction-tuned entry adds a short second stage on our instruction sample in its prompt format.

Everything that determines the weights is a recipe (:func:`tiny_recipe`); the cache folder
``$LLM_SURVEY_CACHE/tiny/<family>-<tokenizer>[-chat][-sft]-<hash>/`` hashes it with the corpus bytes and the
torch / transformers versions. Builds run on one thread with deterministic algorithms and fixed seeds, so the same
recipe gives byte-identical weights, and are written to a temporary folder renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from helpers import env, zoo

SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]
TOKENIZER_RECIPES = {
    # share of Korean text by characters; both recipes use the same total size
    "ko": {"ko_share": 0.85},
    "en": {"ko_share": 0.15},
}
TOKENIZER_VERSION = 1
VOCAB_SIZE = 4096
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY_VERSION = 1
BUILD_THREADS = 1  # part of the recipe: float sums can differ with the thread count
TINY_DEFAULTS = {
    "hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 256, "context": 256,
    "steps": 300, "batch": 8, "seq": 64, "lr": 4e-3, "seed": 0,
}
# Instruction-tuned models get a second, short stage on our KoAlpaca-v1.1-style sample, in the prompt
# format the real model expects: (dataset name in helpers.instruct, template or None for the chat template).
SFT_STAGE = {"koalpaca": ("koalpaca_v1_1", "koalpaca_v1_1"), "chat_template": ("koalpaca_v1_1", None)}
SFT_DEFAULTS = {"steps": 100, "lr": 2e-3, "batch": 8, "seq": 96}

# --------------------------------------------------------------------------- tokenizers


def _check_recipe(recipe: str) -> None:
    if recipe not in TOKENIZER_RECIPES:
        raise ValueError(f"unknown tokenizer recipe {recipe!r}; known: {', '.join(TOKENIZER_RECIPES)}")


def _take_chars(lines: tuple[str, ...], budget: int) -> list[str]:
    """The first lines of ``lines`` (cycled if needed) adding up to ``budget`` characters."""
    out, used = [], 0
    for line in itertools.cycle(lines):
        if used >= budget:
            break
        out.append(line)
        used += len(line)
    return out


def recipe_text(recipe: str) -> list[str]:
    """The training text of a tokenizer recipe: Korean and English lines mixed at the
    recipe's share, interleaved deterministically, with the same total size for every
    recipe (so the ``ko`` and ``en`` tokenizers differ only in what they read)."""
    _check_recipe(recipe)
    ko, en = zoo.corpus_lines("ko"), zoo.corpus_lines("en")
    total = min(sum(map(len, ko)), sum(map(len, en)))
    share = TOKENIZER_RECIPES[recipe]["ko_share"]
    ko_part = _take_chars(ko, int(total * share))
    en_part = _take_chars(en, int(total * (1 - share)))
    # interleave in proportion, so every batch of pre-training sees both languages: Korean line i
    # of n goes at i/n, English line j of m at j/m (compared as i*m vs j*n; Korean first on a tie)
    placed = [(i * len(en_part), 0, line) for i, line in enumerate(ko_part)]
    placed += [(j * len(ko_part), 1, line) for j, line in enumerate(en_part)]
    return [line for _, _, line in sorted(placed)]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]


def _corpus_digest() -> str:
    h = hashlib.sha256()
    for lang in ("ko", "en"):
        for path in zoo.corpus_files(lang):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


@contextlib.contextmanager
def _atomic_dir(final: Path):
    """Build into a temporary sibling folder, then rename it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".", dir=final.parent))
    try:
        yield tmp
        if final.exists():  # another process won the race: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _tokenizer_key(recipe: str) -> str:
    return _digest({"recipe": recipe, "spec": TOKENIZER_RECIPES[recipe], "vocab": VOCAB_SIZE,
                    "v": TOKENIZER_VERSION, "corpus": _corpus_digest(), "special": SPECIAL_TOKENS})


def train_tokenizer(lines):
    """A byte-level BPE (the GPT-2 / Polyglot / BLOOM kind) of ``VOCAB_SIZE`` tokens trained on ``lines``,
    as a ``transformers.PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(lines), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        unk_token="<|endoftext|>", pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"])


def tiny_tokenizer(recipe: str = "ko"):
    """The tokenizer of ``recipe`` (``ko`` or ``en``), trained on first use into
    ``$LLM_SURVEY_CACHE/tokenizers/<recipe>-<hash>/``."""
    from transformers import AutoTokenizer

    _check_recipe(recipe)
    path = env.cache_dir() / "tokenizers" / f"{recipe}-{_tokenizer_key(recipe)}"
    if not (path / "tokenizer.json").exists():
        with _atomic_dir(path) as tmp:
            train_tokenizer(recipe_text(recipe)).save_pretrained(tmp)
    return AutoTokenizer.from_pretrained(path)


# --------------------------------------------------------------------------- tiny models


def _tiny_config(family: str, vocab: int, arch: dict, tok):
    from transformers import BloomConfig, GPTNeoXConfig, LlamaConfig, Qwen2Config

    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    if family == "bloom":  # the MLP is 4 x hidden, no position table (ALiBi)
        return BloomConfig(vocab_size=vocab, hidden_size=arch["hidden"], n_layer=arch["layers"],
                           n_head=arch["heads"], **ids)
    shape = dict(vocab_size=vocab, hidden_size=arch["hidden"], num_hidden_layers=arch["layers"],
                 num_attention_heads=arch["heads"], intermediate_size=arch["ffn"],
                 max_position_embeddings=arch["context"], **ids)
    if family == "gpt_neox":
        return GPTNeoXConfig(**shape, use_parallel_residual=True, tie_word_embeddings=False)
    if family == "llama":
        return LlamaConfig(**shape, num_key_value_heads=arch["kv_heads"], tie_word_embeddings=False)
    if family == "qwen2":
        return Qwen2Config(**shape, num_key_value_heads=arch["kv_heads"], tie_word_embeddings=True)
    raise ValueError(f"no tiny recipe for family {family!r}")


def tiny_recipe(s: zoo.ModelSpec) -> dict:
    """Everything that determines a stand-in's weights (its cache key is a hash of this)."""
    arch = {**TINY_DEFAULTS, **(s.tiny or {})}
    recipe = {"family": s.family, "tokenizer": s.tokenizer, "chat": s.prompt_format == "chat_template",
              "arch": arch, "threads": BUILD_THREADS, "v": TINY_VERSION}
    if s.kind != "base" and s.prompt_format in SFT_STAGE:
        data, tmpl = SFT_STAGE[s.prompt_format]
        recipe["sft"] = {"data": data, "template": tmpl or "chat_template", **SFT_DEFAULTS}
    return recipe


def _sft_sample_path(data: str) -> Path:
    from helpers import instruct

    return instruct.instruct_dir() / instruct._sources()[data]["sample"]


def sft_texts(s: zoo.ModelSpec, tok) -> list[str]:
    """The second stage's training texts: our sample rendered exactly as the model will be prompted."""
    from helpers import instruct

    data, tmpl = SFT_STAGE[s.prompt_format]
    df = instruct.load(_sft_sample_path(data))
    texts = []
    for rec in df.to_dict("records"):
        if not str(rec.get("output", "")).strip():
            continue  # nothing to learn from an empty answer
        chat = [{"role": "user", "content": rec["instruction"]}, {"role": "assistant", "content": rec["output"]}]
        texts.append("".join(instruct.render(rec, tmpl, eos_token=tok.eos_token)) if tmpl
                     else tok.apply_chat_template(chat, tokenize=False))
    return texts


@contextlib.contextmanager
def _deterministic_torch(threads: int = BUILD_THREADS):
    import torch

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def pretrain_batches(tok, lines, seq: int, batch: int, steps: int, seed: int):
    """Yield ``steps`` batches of ``seq``-token windows of the tokenized text (deterministic)."""
    import torch

    lines_ids = tok(list(lines), add_special_tokens=False)["input_ids"]
    data = torch.tensor([i for ids in lines_ids for i in (*ids, tok.eos_token_id)], dtype=torch.long)  # EOS after each
    n_windows = len(data) - seq - 1
    if n_windows < batch:
        raise ValueError(f"corpus too small: {len(data)} tokens for windows of {seq}")
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        starts = torch.randint(0, n_windows, (batch,), generator=gen)
        yield torch.stack([data[s:s + seq] for s in starts.tolist()])


def _build_tiny(s: zoo.ModelSpec, out: Path) -> dict:
    """Pre-train a stand-in from scratch; an instruct recipe starts from its base stand-in
    (built first if needed) and adds the short second stage, as KoAlpaca adds SFT to Polyglot-ko."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    recipe = tiny_recipe(s)
    arch = recipe["arch"]
    t0 = time.perf_counter()
    meta: dict[str, Any] = {"recipe": recipe, "sft_loss_first": None, "sft_loss_last": None}
    if "sft" in recipe:
        base = _ensure_built(s.model_copy(update={"kind": "base"}))  # the same recipe without the second stage
        tok, model = AutoTokenizer.from_pretrained(base), AutoModelForCausalLM.from_pretrained(base)
        base_meta = json.loads((base / "standin.json").read_text(encoding="utf-8"))
        meta.update(loss_first=base_meta["loss_first"], loss_last=base_meta["loss_last"])
        stage, seed, texts = recipe["sft"], arch["seed"] + 1, sft_texts(s, tok)
        weight_decay, warmup, prefix = 0.0, 1, "sft_"  # no warm-up: the model is trained already
    else:
        tok, model = tiny_tokenizer(s.tokenizer), None
        if recipe["chat"]:
            tok.chat_template = CHAT_TEMPLATE
        stage, seed, texts = arch, arch["seed"], recipe_text(s.tokenizer)
        weight_decay, warmup, prefix = 0.01, max(1, arch["steps"] // 10), ""
    with _deterministic_torch():
        set_seed(seed)
        model = model or AutoModelForCausalLM.from_config(_tiny_config(s.family, len(tok), arch, tok))
        opt = torch.optim.AdamW(model.parameters(), lr=stage["lr"], weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay to a tenth
            opt, lambda i: min(1.0, (i + 1) / warmup) * max(0.1, 1 - i / stage["steps"]))
        losses = _train(model, opt, sched, pretrain_batches(
            tok, texts, stage["seq"], stage["batch"], stage["steps"], seed))
    model.eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    meta.update({f"{prefix}loss_first": losses[0], f"{prefix}loss_last": sum(losses[-20:]) / min(20, len(losses)),
                 "build_seconds": round(time.perf_counter() - t0, 2), "params": model.num_parameters(),
                 "torch": torch.__version__})
    (out / "standin.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def _train(model, opt, sched, batches) -> list[float]:
    import torch

    model.train()
    losses = []
    for batch in batches:
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(round(float(loss.detach()), 4))
    return losses


def _spec_path(s: zoo.ModelSpec) -> Path:
    import torch
    import transformers

    recipe = tiny_recipe(s)
    parts = {"recipe": recipe, "tokenizer": _tokenizer_key(s.tokenizer),
             "torch": torch.__version__.split("+")[0], "transformers": transformers.__version__}
    if "sft" in recipe:
        parts["sft_data"] = hashlib.sha256(_sft_sample_path(recipe["sft"]["data"]).read_bytes()).hexdigest()[:12]
    tags = ("-chat" if recipe["chat"] else "") + ("-sft" if "sft" in recipe else "")
    return env.cache_dir() / "tiny" / f"{s.family}-{s.tokenizer}{tags}-{_digest(parts)}"


def _ensure_built(s: zoo.ModelSpec, force: bool = False) -> Path:
    path = _spec_path(s)
    if force and path.exists():
        shutil.rmtree(path)
    if not (path / "standin.json").exists():
        with _atomic_dir(path) as tmp:
            _build_tiny(s, tmp)
    return path


def tiny_path(model_id: str) -> Path:
    """Cache folder of ``model_id``'s stand-in (it may not be built yet)."""
    return _spec_path(zoo.spec(model_id))


def build_tiny(model_id: str, force: bool = False) -> Path:
    """Build (or find in the cache) the stand-in of ``model_id``; returns its folder."""
    return _ensure_built(zoo.spec(model_id), force)


def describe(s: zoo.ModelSpec, model, tok, weights: str) -> str:
    """What ``helpers.zoo.load`` says it loaded for ``s`` in the tiny profile (``weights``: dtype[, quantization],
    device, named when not the stand-in's own float32 on the CPU)."""
    recipe = tiny_recipe(s)
    arch = recipe["arch"]
    stage = (f", then instruction-tuned on our {recipe['sft']['data']} sample ({recipe['sft']['template']} "
             "format)" if "sft" in recipe else "")
    if weights != "float32, cpu":
        stage += f" ({weights})"
    return (f"tiny stand-in for {s.hub_id}: {type(model.config).__name__}, {arch['layers']} layers, "
            f"hidden {arch['hidden']}, {model.num_parameters():,} parameters, byte-level BPE "
            f"'{s.tokenizer}' ({len(tok):,} tokens), pre-trained on our corpus{stage}; not the real model")
