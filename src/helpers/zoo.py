"""One registry of the models the notebooks use (``data/zoo.yaml``; CONTRIBUTING.md says how to add one).

``load(model_id)`` gives ``(model, tokenizer, info)``:

* **real** profile: ``from_pretrained(hub_id, revision=<pinned>)`` with a dtype and device
  chosen for the hardware, safetensors only, never ``trust_remote_code``.
* **tiny** profile: a stand-in with the *same config class* as the real model (GPT-NeoX,
  LLaMA, BLOOM, Qwen2), a few layers and a small width, and a byte-level BPE tokenizer trained
  on text we ship in ``data/corpus/``; briefly pre-trained on that text so losses and
  generations mean something. Built deterministically (same recipe -> byte-identical
  weights) on first use by ``survey_tools.standins`` (or ahead of time by ``make tiny``) and
  cached outside the repository, keyed by recipe and corpus.
"""

from __future__ import annotations

import contextlib
import json
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
    tiny: dict = {}  # overrides of survey_tools.standins.TINY_DEFAULTS
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


# --------------------------------------------------------------------------- our corpus


def corpus_files(lang: str) -> list[Path]:
    """Our ``data/corpus/<lang>/*.txt`` in name order: the text of the tiny tokenizers and stand-ins."""
    files = sorted(env.data_path(CORPUS_DIR, lang).glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no corpus files in {env.data_path(CORPUS_DIR, lang)}")
    return files


@lru_cache(maxsize=4)
def corpus_lines(lang: str) -> tuple[str, ...]:
    """Non-empty lines of :func:`corpus_files`, stripped, in file order."""
    lines = (line.strip() for path in corpus_files(lang) for line in path.read_text(encoding="utf-8").split("\n"))
    return tuple(line for line in lines if line)


def tiny_tokenizer(recipe: str = "ko"):
    """The tiny profile's byte-level BPE for ``recipe`` (``ko``: Korean-heavy, ``en``: English-heavy), trained on
    our corpus on first use and cached (``survey_tools.standins``)."""
    from survey_tools import standins

    return standins.tiny_tokenizer(recipe)


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
        from survey_tools import standins

        where, hub = str(standins.build_tiny(s.id)), {}
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
        desc = standins.describe(s, model, tok, weights)
    else:
        desc = f"{s.hub_id}@{hub['revision'][:12]} ({type(model.config).__name__}, {weights})"
    info = ModelInfo(s.id, s.hub_id, s.revision, choice.profile, s.family, type(model.config).__name__,
                     model.num_parameters(), dtype, device, desc, choice.reason, where if tiny else "",
                     hub.get("revision", ""))
    return Loaded(model, tok, info)
