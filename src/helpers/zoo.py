"""One registry of the models the notebooks use, and the tiny stand-ins.

``load(model_id)`` gives ``(model, tokenizer, info)``:

* **real** profile: ``from_pretrained(hub_id, revision=<pinned>)`` with a dtype and device
  chosen for the hardware, safetensors only, never ``trust_remote_code``.
* **tiny** profile: a stand-in with the *same config class* as the real model (GPT-NeoX,
  LLaMA, BLOOM, Qwen2), a few layers and a small width, and a byte-level BPE tokenizer trained
  on text we ship in ``data/corpus/``; briefly pre-trained on that text so losses and
  generations mean something. Built deterministically (same recipe -> byte-identical
  weights) and cached outside the repository, keyed by recipe and corpus.

The registry is ``data/zoo.yaml``; see CONTRIBUTING.md for adding a model.
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
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from . import env

REGISTRY_FILE = "zoo.yaml"
CORPUS_DIR = "corpus"

# --------------------------------------------------------------------------- registry


class UnknownModelError(ValueError):
    """An id that is not in the registry."""


class RegistryError(ValueError):
    """``data/zoo.yaml`` is malformed; the message names file, line and field."""


Text = Annotated[str, Field(min_length=1)]


class ModelSpec(BaseModel):
    """One entry of ``data/zoo.yaml`` (the fields are described at the top of that file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = ""  # the entry's key
    hub_id: Text
    revision: Text
    family: Literal["gpt_neox", "llama", "bloom", "qwen2"]
    params_b: float
    license: Text
    kind: Literal["base", "instruct", "chat"]
    prompt_format: Literal["plain", "koalpaca", "chat_template"]
    source: Text
    catalog_id: str = ""
    tokenizer: Literal["ko", "en"] = "ko"  # the tiny stand-in's tokenizer recipe
    tiny: dict = {}  # overrides of the tiny architecture
    note: str = ""


class Registry(BaseModel):
    models: dict[str, ModelSpec] = Field(min_length=1)


def _registry_path() -> Path:
    return env.data_path(REGISTRY_FILE)


@lru_cache(maxsize=4)
def _read_registry(path: str, mtime: float) -> dict[str, ModelSpec]:
    models = env.read_yaml(path, Registry, RegistryError).models
    return {mid: s.model_copy(update={"id": mid}) for mid, s in models.items()}


def specs() -> dict[str, ModelSpec]:
    """All registry entries by id."""
    path = _registry_path()
    return _read_registry(str(path), path.stat().st_mtime)


def spec(model_id: str) -> ModelSpec:
    """The registry entry of ``model_id`` (a registry id or a hub id)."""
    table = specs()
    if model_id in table:
        return table[model_id]
    for s in table.values():
        if s.hub_id == model_id:
            return s
    known = "\n  ".join(f"{k:<28} {v.hub_id}" for k, v in table.items())
    required = [name for name, f in ModelSpec.model_fields.items() if f.is_required()]
    raise UnknownModelError(
        f"unknown model id {model_id!r}. Known ids (id, hub id):\n  {known}\n"
        f"To add one, add an entry to {_registry_path()} with the fields "
        f"{', '.join(required)} (see CONTRIBUTING.md, 'Add a model to the registry').")


def registry():
    """The registry as a pandas DataFrame, one row per model."""
    import pandas as pd

    rows = [{**s.model_dump(), "tiny": json.dumps(s.tiny) if s.tiny else ""} for s in specs().values()]
    return pd.DataFrame(rows).set_index("id")


def is_pinned(s: ModelSpec) -> bool:
    """A revision is pinned when it is a full 40-hex commit hash (``python -m survey_tools.zoo pin``)."""
    return env.is_commit(s.revision)


# --------------------------------------------------------------------------- tokenizers

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


def _corpus_files(lang: str) -> list[Path]:
    files = sorted(env.data_path(CORPUS_DIR, lang).glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no corpus files in {env.data_path(CORPUS_DIR, lang)}")
    return files


@lru_cache(maxsize=4)
def corpus_lines(lang: str) -> tuple[str, ...]:
    """Non-empty lines of our ``data/corpus/<lang>/*.txt``, in file order."""
    out = []
    for path in _corpus_files(lang):
        with open(path, encoding="utf-8") as fh:
            out.extend(line.strip() for line in fh if line.strip())
    return tuple(out)


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
    if recipe not in TOKENIZER_RECIPES:
        raise ValueError(f"unknown tokenizer recipe {recipe!r}; known: {', '.join(TOKENIZER_RECIPES)}")
    ko, en = corpus_lines("ko"), corpus_lines("en")
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
        for path in _corpus_files(lang):
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


def _tokenizer_key(recipe: str, vocab_size: int) -> str:
    return _digest({"recipe": recipe, "spec": TOKENIZER_RECIPES[recipe], "vocab": vocab_size,
                    "v": TOKENIZER_VERSION, "corpus": _corpus_digest(), "special": SPECIAL_TOKENS})


def train_tokenizer(lines, vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE (the GPT-2 / Polyglot / BLOOM kind) trained on ``lines``, as a
    ``transformers.PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(lines), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        unk_token="<|endoftext|>", pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"])


def tiny_tokenizer(recipe: str = "ko", vocab_size: int = VOCAB_SIZE):
    """The tiny profile's byte-level BPE for ``recipe`` (``ko`` or ``en``), cached."""
    from transformers import AutoTokenizer

    if recipe not in TOKENIZER_RECIPES:
        raise ValueError(f"unknown tokenizer recipe {recipe!r}; known: {', '.join(TOKENIZER_RECIPES)}")
    path = env.cache_dir() / "tokenizers" / f"{recipe}-{_tokenizer_key(recipe, vocab_size)}"
    if not (path / "tokenizer.json").exists():
        with _atomic_dir(path) as tmp:
            train_tokenizer(recipe_text(recipe), vocab_size).save_pretrained(tmp)
    return AutoTokenizer.from_pretrained(path)


# --------------------------------------------------------------------------- tiny models

TINY_VERSION = 1
BUILD_THREADS = 1  # part of the recipe: float sums can differ with the thread count
TINY_DEFAULTS = {
    "hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 256, "context": 256,
    "steps": 300, "batch": 8, "seq": 64, "lr": 4e-3, "seed": 0,
}


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


# Instruction-tuned models get a second, short stage on our KoAlpaca-v1.1-style sample, in the prompt
# format the real model expects: (dataset name in helpers.instruct, template or None for the chat template).
SFT_STAGE = {"koalpaca": ("koalpaca_v1_1", "koalpaca_v1_1"), "chat_template": ("koalpaca_v1_1", None)}
SFT_DEFAULTS = {"steps": 100, "lr": 2e-3, "batch": 8, "seq": 96}


def tiny_recipe(s: ModelSpec) -> dict:
    """Everything that determines a stand-in's weights (its cache key is a hash of this)."""
    arch = {**TINY_DEFAULTS, **(s.tiny or {})}
    recipe = {"family": s.family, "tokenizer": s.tokenizer, "chat": s.prompt_format == "chat_template",
              "arch": arch, "threads": BUILD_THREADS, "v": TINY_VERSION}
    if s.kind != "base" and s.prompt_format in SFT_STAGE:
        data, tmpl = SFT_STAGE[s.prompt_format]
        recipe["sft"] = {"data": data, "template": tmpl or "chat_template", **SFT_DEFAULTS}
    return recipe


def _sft_sample_path(data: str) -> Path:
    from . import instruct

    return instruct.instruct_dir() / instruct._sources()[data]["sample"]


def sft_texts(s: ModelSpec, tok) -> list[str]:
    """The second stage's training texts: our sample rendered exactly as the model will be prompted."""
    from . import instruct

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


def _build_tiny(s: ModelSpec, out: Path) -> dict:
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


def _spec_path(s: ModelSpec) -> Path:
    import torch
    import transformers

    recipe = tiny_recipe(s)
    parts = {"recipe": recipe, "tokenizer": _tokenizer_key(s.tokenizer, VOCAB_SIZE),
             "torch": torch.__version__.split("+")[0], "transformers": transformers.__version__}
    if "sft" in recipe:
        parts["sft_data"] = hashlib.sha256(_sft_sample_path(recipe["sft"]["data"]).read_bytes()).hexdigest()[:12]
    tags = ("-chat" if recipe["chat"] else "") + ("-sft" if "sft" in recipe else "")
    return env.cache_dir() / "tiny" / f"{s.family}-{s.tokenizer}{tags}-{_digest(parts)}"


def _ensure_built(s: ModelSpec, force: bool = False) -> Path:
    path = _spec_path(s)
    if force and path.exists():
        shutil.rmtree(path)
    if not (path / "standin.json").exists():
        with _atomic_dir(path) as tmp:
            _build_tiny(s, tmp)
    return path


def tiny_path(model_id: str) -> Path:
    """Cache folder of ``model_id``'s stand-in (it may not be built yet)."""
    return _spec_path(spec(model_id))


def build_tiny(model_id: str, force: bool = False) -> Path:
    """Build (or find in the cache) the stand-in of ``model_id``; returns its folder."""
    return _ensure_built(spec(model_id), force)


# --------------------------------------------------------------------------- load


class ModelInfo(NamedTuple):
    """What :func:`load` loaded, and why (``reason``: the profile choice; ``commit``: the hub commit loaded)."""
    model_id: str
    hub_id: str
    revision: str
    profile: str
    family: str
    config_class: str
    params: int
    dtype: str
    device: str
    description: str
    reason: str
    path: str = ""
    commit: str = ""

    @property
    def is_tiny(self) -> bool:
        return self.profile == "tiny"

    @property
    def label(self) -> str:
        """Short label for tables and plots; under ``auto`` a stand-in's says why the real model was not loaded."""
        why = f"; {self.reason}" if self.is_tiny and self.reason.startswith("auto") else ""
        return f"{self.model_id} (tiny stand-in{why})" if self.is_tiny else self.model_id


class Loaded(NamedTuple):
    model: Any
    tokenizer: Any
    info: ModelInfo


def _real_dtype(hw) -> str:
    """A real model's dtype: 16-bit on a GPU (bfloat16 where the GPU has it), float32 on a CPU."""
    return {"cuda": "bfloat16" if hw.bf16 else "float16", "mps": "float16"}.get(hw.device, "float32")


def quantization_config(quantization: str, dtype: str = "float16"):
    """bitsandbytes settings: ``"8bit"`` (LLM.int8) or ``"4bit"`` (NF4 with double quantization,
    computing in ``dtype``: the QLoRA setting)."""
    import torch
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    if quantization != "4bit":
        raise ValueError(f"quantization must be None, '8bit' or '4bit', got {quantization!r}")
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16 if dtype == "bfloat16" else torch.float16)


def choose(model_id: str, profile: str | None = None, method: str = "inference", **estimate) -> env.ProfileChoice:
    """Real model or tiny stand-in for ``model_id``, and why. Under ``auto``: real when the hub answers and
    the model fits the free memory of the device it would load on (GPU memory on CUDA, RAM on a CPU), as
    :func:`helpers.memory.estimate` (``method``, ``estimate`` keywords) reckons it; else the stand-in."""
    choice = env.choose_profile(profile)
    if choice.asked == "auto" and choice.profile == "real":
        from . import memory

        hw = env.hardware()
        kw = {"dtype": _real_dtype(hw), **{k: v for k, v in estimate.items() if v is not None}}
        choice = env.choose_profile(profile, need_gb=memory.estimate(spec(model_id).id, method, **kw).total)
    return choice


def load(model_id: str, profile: str | None = None, *, dtype: str | None = None,
         quantization: str | None = None, device: str | None = None) -> Loaded:
    """Load ``model_id`` in the profile in force; returns ``(model, tokenizer, info)``.

    ``dtype``: a stand-in loads in float32, a real model in this hardware's 16-bit type on a GPU.
    ``quantization``: ``None``, ``"8bit"`` or ``"4bit"`` (bitsandbytes, CUDA only). ``device``: a
    stand-in stays on the CPU, a real model goes to the accelerator. Under ``auto`` a real model that
    would not fit this machine (:func:`choose`) falls back to its stand-in and prints why; ``info.label`` says it.
    Hub failures (gated, unknown revision, a broken download) raise :class:`helpers.env.HubError`.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    s = spec(model_id)
    hw = env.hardware()
    if quantization and hw.device != "cuda":
        raise env.ProfileError(f"{quantization} quantization needs CUDA (bitsandbytes); this is {hw.device} "
                               f"({hw.name}). Load without it here (LoRA instead of QLoRA), or run on a GPU "
                               "(Colab: Runtime -> Change runtime type -> T4 GPU).")
    choice = choose(s.id, profile, dtype=dtype, quantization=quantization)
    if choice.asked == "auto" and choice.profile == "tiny":
        print(f"{s.id}: tiny stand-in ({choice.reason})")
    tiny = choice.profile == "tiny"
    dtype = dtype or ("float32" if tiny else _real_dtype(hw))
    device = "cuda" if quantization else device or ("cpu" if tiny else hw.device)
    if tiny:
        where, hub = str(build_tiny(s.id)), {}
    else:
        pin = f"`python -m survey_tools.zoo pin {s.id}` writes it into data/zoo.yaml"
        where, hub = s.hub_id, {"revision": env.hub_commit(s.hub_id, s.revision, pin=pin, page=s.source),
                                "trust_remote_code": False}
    kwargs: dict[str, Any] = {**hub, "use_safetensors": True, "dtype": getattr(torch, dtype)}
    if quantization:
        kwargs.update(quantization_config=quantization_config(quantization, dtype), device_map={"": 0})
    with env.hub_errors(s.hub_id, s.revision, s.source) if hub else contextlib.nullcontext():
        tok = AutoTokenizer.from_pretrained(where, **hub)
        model = AutoModelForCausalLM.from_pretrained(where, **kwargs)
    if not quantization:
        model.to(device)
    model.eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    weights = f"{dtype}{f', {quantization}' if quantization else ''}, {device}"
    if tiny:
        recipe = tiny_recipe(s)
        arch = recipe["arch"]
        stage = (f", then instruction-tuned on our {recipe['sft']['data']} sample ({recipe['sft']['template']} "
                 "format)" if "sft" in recipe else "")
        if quantization or device != "cpu" or dtype != "float32":
            stage += f" ({weights})"
        desc = (f"tiny stand-in for {s.hub_id}: {type(model.config).__name__}, {arch['layers']} layers, "
                f"hidden {arch['hidden']}, {model.num_parameters():,} parameters, byte-level BPE "
                f"'{s.tokenizer}' ({len(tok):,} tokens), pre-trained on our corpus{stage}; not the real model")
    else:
        desc = f"{s.hub_id}@{hub['revision'][:12]} ({type(model.config).__name__}, {weights})"
    info = ModelInfo(s.id, s.hub_id, s.revision, choice.profile, s.family, type(model.config).__name__,
                     model.num_parameters(), dtype, device, desc, choice.reason, where if tiny else "",
                     hub.get("revision", ""))
    return Loaded(model, tok, info)
