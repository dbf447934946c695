"""GPU memory, estimated in one place: inference, full fine-tuning, LoRA and QLoRA.

Every figure is in GiB (2^30 bytes). :func:`estimate` adds up weights, KV cache, gradients, optimizer states,
activations and a fixed overhead under the assumptions in :data:`ASSUMPTIONS`; everything that says "fits" goes
through :meth:`Estimate.fits`. The facts are data (``data/memory.yaml``): each model's ``config.json`` values with
their URL, the GPUs' memory from the data sheets and the one usable share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from . import env

GiB = 2**30
FACTS_FILE = "memory.yaml"
METHODS = ("inference", "full", "lora", "qlora")
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
NF4_BITS = 4 + 8 / 64 + 32 / (64 * 256)  # NF4 with double quantization
OVERHEAD_GIB = 0.5

ASSUMPTIONS = """\
How helpers.memory estimates GPU memory (GiB = 2^30 bytes):
- Parameters: counted exactly on a skeleton of the model built from its config.json values
  (data/memory.yaml) with accelerate.init_empty_weights(); accelerate.utils.calculate_maximum_sizes
  gives the bytes. bitsandbytes quantizes the blocks' linear weights; embeddings, norms and the
  output head stay 16-bit.
- Inference: weights in fp32 (4 B), fp16/bf16 (2 B), 8-bit (1 B) or 4-bit NF4 with double
  quantization (4 + 8/64 + 32/(64*256) = 4.127 bits; per-row 8-bit constants are left out).
  KV cache: 2 (K, V) x layers x batch x context x kv_heads x head_dim x 2 B. Working memory: one
  layer's activations for the prompt and the fp32 logits of the last position.
- Full fine-tuning, mixed precision with AdamW (the ZeRO paper's count): 16-bit weights (2 B)
  and gradients (2 B), fp32 master weights (4 B) and Adam's two moments (4 + 4 B):
  16 bytes per parameter. (Pure fp32 training also comes to 16: 4 + 4 + 8.)
- LoRA: the frozen base in 16-bit (2 B/param), no gradients or optimizer state for it; the adapter
  parameters in fp32 with fp32 gradients and Adam moments (16 B per trainable parameter).
- QLoRA: the base quantized to 4-bit NF4 as above; adapters as in LoRA, but the paged 8-bit AdamW
  keeps 2 B of moments per trainable parameter.
- Training activations (16-bit), per layer, after Korthikanti et al. (2022): s*b*h*34 bytes with
  a memory-efficient attention kernel (SDPA/flash: no stored s x s scores), plus 5*a*s^2*b bytes
  when the scores are stored (flash_attention=False). Gradient checkpointing keeps each layer's
  input (2*s*b*h bytes) plus one layer's activations while it is recomputed. Logits and their
  gradient in fp32: 8*b*s*V bytes. LoRA and QLoRA need the same: the backward pass still runs
  through the frozen layers.
- Overhead: a fixed 0.5 GiB for the CUDA context and kernels.
- A model fits a GPU when the total is at most {share:.0%} of the card's memory on its data sheet
  (the ECC reserve of GDDR6 cards and the allocator's fragmentation take the rest)."""


class MemoryFactsError(ValueError):
    """``data/memory.yaml`` is malformed or lacks a model; the message names file, line and field."""


Count = Annotated[int, Field(strict=True, gt=0)]


class Shape(BaseModel):
    """A model's ``config.json`` values; ``None`` (``null``) where the config class decides."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    model_type: str
    hidden_size: Count
    num_hidden_layers: Count
    num_attention_heads: Count
    num_key_value_heads: Count | None
    head_dim: Count | None = None  # only where config.json sets it
    intermediate_size: Count | None
    vocab_size: Count
    tie_word_embeddings: bool | None
    max_position_embeddings: Count | None
    source: str  # the config.json URL
    note: str = ""


class GPU(BaseModel):
    memory_gib: float = Field(gt=0)  # on the data sheet
    bf16: bool
    source: str


class Facts(BaseModel):
    usable_share: float = Field(gt=0, le=1)
    gpus: dict[str, GPU] = Field(min_length=1)
    models: dict[str, Shape] = Field(min_length=1)


@lru_cache(maxsize=2)
def _read_facts(path: str, mtime: float) -> Facts:
    return env.read_yaml(path, Facts, MemoryFactsError)


def facts() -> Facts:
    """``data/memory.yaml``, validated: ``usable_share``, ``gpus`` and ``models``."""
    path = env.data_path(FACTS_FILE)
    return _read_facts(str(path), path.stat().st_mtime)


def usable_gib(gpu: str) -> float:
    """How much of ``gpu`` a model may use: its data-sheet memory times the usable share."""
    if gpu not in facts().gpus:
        raise KeyError(f"unknown GPU {gpu!r}; known: {', '.join(facts().gpus)} ({env.data_path(FACTS_FILE)})")
    return facts().gpus[gpu].memory_gib * facts().usable_share


def assumptions() -> str:
    """The assumptions behind every estimate, as shown to students."""
    return ASSUMPTIONS.format(share=facts().usable_share)


def config(model_id: str):
    """A ``transformers`` config of registry model ``model_id``, made from its recorded values."""
    from transformers import AutoConfig

    from . import zoo

    s = zoo.spec(model_id)
    if s.id not in facts().models:
        raise MemoryFactsError(f"{env.data_path(FACTS_FILE)}: no entry for {s.id!r} under 'models:'; add the "
                               f"fields {', '.join(Shape.model_fields)} from {s.hub_id}'s config.json")
    values = facts().models[s.id].model_dump(exclude={"source", "note"}, exclude_none=True)
    model_type, heads = values.pop("model_type"), values["num_attention_heads"]
    # an explicit head_dim need not divide the width (Kanana: 24 x 128 on 1,792), but transformers'
    # LlamaConfig check rejects it (huggingface/transformers#46082): build with a divisor, then set it
    cfg = AutoConfig.for_model(model_type, **{**values, "num_attention_heads": math.gcd(heads, values["hidden_size"])})
    cfg.num_attention_heads = heads
    return cfg


@dataclass(frozen=True)
class ParameterCount:
    """A model's parameters: ``total``, ``fp32_bytes`` (accelerate's size at 4 B each), the ``quantizable`` ones
    (the blocks' linear weights) and each linear module name's ``(in, out, count)`` (what LoRA adds to it)."""
    total: int
    fp32_bytes: int
    quantizable: int
    linear: dict


def count_parameters(config) -> ParameterCount:
    """The parameters of the model ``config`` describes, counted on an ``accelerate.init_empty_weights()`` skeleton."""
    import torch
    from accelerate import init_empty_weights
    from accelerate.utils import calculate_maximum_sizes
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config)
    model.tie_weights()  # the skeleton comes untied; loading ties shared embeddings
    head = model.get_output_embeddings()
    linear: dict[str, tuple[int, int, int]] = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            key = name.rsplit(".", 1)[-1]  # the same shape in every block
            linear[key] = (module.in_features, module.out_features, linear.get(key, (0, 0, 0))[2] + 1)
    quantizable = sum(i * o * n for i, o, n in linear.values())
    return ParameterCount(model.num_parameters(), int(calculate_maximum_sizes(model)[0]), quantizable, linear)


@lru_cache(maxsize=32)
def parameters(model_id: str) -> ParameterCount:
    """:func:`count_parameters` of a registry model's real architecture (cached)."""
    return count_parameters(config(model_id))


def lora_parameters(model, targets="attention", r: int = 8) -> int:
    """Parameters LoRA adds: ``r * (in + out)`` for every linear module it wraps; ``model``: a registry id, or a
    ``transformers`` config (of a stand-in, say)."""
    from . import lora

    counts, cfg = (parameters(model), config(model)) if isinstance(model, str) else (count_parameters(model), model)
    wanted = lora.target_modules(cfg.model_type, targets)
    missing = [m for m in wanted if m not in counts.linear]
    if missing:
        raise ValueError(f"{cfg.model_type} blocks have no module(s) {missing}; known: {', '.join(counts.linear)}")
    return sum(r * (counts.linear[m][0] + counts.linear[m][1]) * counts.linear[m][2] for m in wanted)


@dataclass(frozen=True)
class Estimate:
    """One estimate, in GiB; :attr:`total` and :meth:`fits` are what tables show."""
    model: str
    method: str
    weights_format: str
    weights: float
    kv_cache: float
    gradients: float
    optimizer: float
    activations: float
    overhead: float
    parameters: int
    trainable: int

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.gradients + self.optimizer + self.activations + self.overhead

    def fits(self, gpu: str) -> bool:
        """Whether the total is within the usable memory of ``gpu`` (:func:`usable_gib`)."""
        return self.total <= usable_gib(gpu)


def estimate(model: str, method: str = "inference", *, dtype: str = "float16", quantization: str | None = None,
             batch_size: int = 1, seq_len: int = 512, gradient_checkpointing: bool = True,
             flash_attention: bool = True, r: int = 8, targets="attention") -> Estimate:
    """GPU memory of registry model ``model`` for ``method`` (see :func:`assumptions`). Inference: weights in ``dtype``
    (or ``quantization`` "8bit"/"4bit") plus the KV cache of ``batch_size`` sequences of ``seq_len`` tokens (prompt
    and answer). Training: ``batch_size`` x ``seq_len`` tokens a step, LoRA rank ``r`` on ``targets``."""
    if method not in METHODS or dtype not in DTYPE_BYTES or quantization not in (None, "8bit", "4bit"):
        raise ValueError(f"method must be one of {METHODS}, dtype one of {tuple(DTYPE_BYTES)} and quantization "
                         f"None, '8bit' or '4bit'; got {method!r}, {dtype!r}, {quantization!r}")
    cfg, counts = config(model), parameters(model)
    width = DTYPE_BYTES[dtype]
    rest = counts.fp32_bytes / 4 * width - counts.quantizable * width  # embeddings, norms, head, biases
    quantization = {"inference": quantization, "qlora": "4bit"}.get(method)  # full, LoRA: a 16-bit base
    bits = {None: 8 * width, "8bit": 8, "4bit": NF4_BITS}[quantization]
    weights = counts.quantizable * bits / 8 + rest
    label = {None: dtype.replace("float", "fp").replace("bfp", "bf"), "8bit": "8-bit", "4bit": "4-bit NF4"}
    kv = grads = optim = trainable = 0
    if method == "inference":
        kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        kv = 2 * cfg.num_hidden_layers * batch_size * seq_len * kv_heads * head_dim * width
        act = seq_len * batch_size * cfg.hidden_size * 34 + 4 * batch_size * cfg.vocab_size
    else:
        s, b, h, heads = seq_len, batch_size, cfg.hidden_size, cfg.num_attention_heads
        per_layer = s * b * h * 34 + (0 if flash_attention else 5 * heads * s * s * b)
        # checkpointing stores each layer's input and recomputes one layer at a time; logits in fp32
        stored = cfg.num_hidden_layers * (2 * s * b * h if gradient_checkpointing else per_layer)
        act = stored + (per_layer if gradient_checkpointing else 0) + 8 * b * s * cfg.vocab_size
        if method == "full":
            trainable = counts.total
            weights, grads, optim = 2 * trainable, 2 * trainable, 12 * trainable
        else:
            trainable = lora_parameters(model, targets, r)
            weights += 4 * trainable
            grads, optim = 4 * trainable, (8 if method == "lora" else 2) * trainable
    return Estimate(model, method, label[quantization], weights / GiB, kv / GiB, grads / GiB, optim / GiB,
                    act / GiB, OVERHEAD_GIB, counts.total, trainable)


def fit_table(model_ids: Iterable[str] | None = None, methods: Sequence[str] = ("full", "lora", "qlora"),
              quantizations: Sequence[str | None] = (None,), **kw):
    """One row per registry model and method (per weight format for ``"inference"``): the estimate in GiB and,
    for every GPU, whether it fits. ``kw`` goes to :func:`estimate`."""
    import pandas as pd

    from . import zoo

    estimates = [estimate(mid, method, quantization=quant, **kw) for mid in model_ids or list(zoo.specs())
                 for method in methods for quant in (quantizations if method == "inference" else (None,))]
    return pd.DataFrame([{"model": est.model, "params_b": round(est.parameters / 1e9, 2), "method": est.method,
                          "weights": est.weights_format, "GiB": round(est.total, 1),
                          **{gpu: "✓" if est.fits(gpu) else "✗" for gpu in facts().gpus}} for est in estimates])


def inference_table(model_ids: Iterable[str] | None = None, gpu: str = "T4 16GB", **kw):
    """Per model: GiB to generate in fp16, 8-bit and 4-bit NF4, and the most precise of them that fits ``gpu``
    (from :func:`fit_table`, so the verdicts are the same)."""
    tab = fit_table(model_ids, ("inference",), (None, "8bit", "4bit"), **kw)
    wide = tab.pivot(index="model", columns="weights", values="GiB").loc[tab["model"].unique(), tab["weights"].unique()]
    best = tab[tab[gpu] == "✓"].groupby("model", sort=False)["weights"].first()
    wide.insert(0, "params_b", tab.groupby("model")["params_b"].first())
    wide[f"fits {gpu}"] = best.reindex(wide.index).fillna("no")
    wide.columns.name = None
    return wide


def breakdown_figure(model_id: str, methods: Sequence[str] = ("full", "lora", "qlora"), **kw):
    """Stacked bars of what each method's memory is made of (log scale), each GPU's usable memory a dashed line.
    ``kw`` goes to :func:`estimate`."""
    import matplotlib.pyplot as plt
    import pandas as pd

    parts = pd.DataFrame({m: asdict(estimate(model_id, m, **kw)) for m in methods}).T
    parts = parts[["weights", "kv_cache", "gradients", "optimizer", "activations", "overhead"]].astype(float)
    ax = parts.loc[:, (parts > 0).any()].plot.barh(stacked=True, figsize=(6.5, 0.6 + 0.7 * len(methods)))
    for gpu in facts().gpus:
        ax.axvline(usable_gib(gpu), ls="--", lw=0.8, color="gray")
        ax.text(usable_gib(gpu), len(methods) - 0.55, gpu, fontsize=7, rotation=90, va="top")
    ax.set(xscale="log", xlabel="GiB (log)",
           title=f"{model_id}: 메모리 어림 (seq {kw.get('seq_len', 512)}, batch {kw.get('batch_size', 1)})")
    ax.figure.tight_layout()
    plt.close(ax.figure)
    return ax.figure
