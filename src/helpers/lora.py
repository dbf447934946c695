"""LoRA fine-tuning: SFT examples with prompt masking, presets per architecture, training and a command line.

One code path for both profiles: :func:`train` fine-tunes a registry model (``helpers.zoo``), the CPU stand-in
in the tiny profile, the hub model in the real one (fp16/bf16 LoRA, or QLoRA in 4-bit NF4 on CUDA);
``python -m helpers.lora train ...`` runs the same function, also under ``accelerate launch``. The adapter
itself is plain ``peft``.

Masking: ``helpers.instruct.render`` gives ``(prompt, answer)``; we tokenize the two parts separately and
concatenate the ids, so the boundary between "masked" and "trained" is exact by construction (no token
straddles it) and the prompt is tokenized exactly as it will be at generation time. Prompt labels are ``-100``
(ignored by the cross-entropy) unless ``train_on_inputs`` is set, as in alpaca-lora. Truncation cuts
``input_ids`` and ``labels`` with the same slice, so they stay aligned.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import env

IGNORE_INDEX = -100


class HardwareError(RuntimeError):
    """A precision this hardware lacks (bf16 on a T4, fp16 without CUDA); ``zoo.load`` refuses 4-bit without CUDA."""


# =========================================================================== SFT examples

def tokenize_record(record: Mapping[str, Any] | Sequence[Any], tokenizer, template: str = "koalpaca_v1_1",
                    cutoff_len: int = 256, train_on_inputs: bool = False) -> dict:
    """A dataset row (``instruct.render``; the answer ends with EOS where the template says so) or a conversation
    (turns and a conversation template such as ``vicuna_v1_1``; ``instruct.render_conversation``: every assistant
    turn carries the loss) tokenized, masked as the module docstring says and cut to ``cutoff_len`` tokens;
    ``truncated`` says whether the cut took any, ``n_answer`` counts the trained tokens."""
    from . import instruct

    if cutoff_len < 1:
        raise ValueError(f"cutoff_len must be >= 1, got {cutoff_len}")
    if isinstance(record, Mapping):
        prompt, answer = instruct.render(record, template, eos_token=tokenizer.eos_token)
        segments = [(prompt, False), (answer, True)]
    else:
        segments = [(seg.text, seg.loss) for seg in instruct.render_conversation(record, template)]
    input_ids, labels = [], []
    for k, (text, loss) in enumerate(segments):
        # the first segment gets the tokenizer's own specials (LLaMA's BOS); later ones none
        ids = list(tokenizer(text, add_special_tokens=k == 0)["input_ids"])
        input_ids += ids
        labels += ids if (loss or train_on_inputs) else [IGNORE_INDEX] * len(ids)
    kept, labels = input_ids[:cutoff_len], labels[:cutoff_len]
    return {"input_ids": kept, "attention_mask": [1] * len(kept), "labels": labels,
            "truncated": len(input_ids) > cutoff_len, "n_answer": sum(x != IGNORE_INDEX for x in labels)}


class SFTDataset(list):
    """Tokenized examples (``input_ids``, ``attention_mask``, ``labels``) for ``transformers.Trainer``; ``stats``
    counts the rows read, truncated, dropped (truncation left no answer token) and the answer tokens."""

    def __init__(self, examples: list[dict], stats: dict):
        super().__init__({k: ex[k] for k in ("input_ids", "attention_mask", "labels")} for ex in examples)
        self.stats = {**stats, "answer_tokens": sum(ex["n_answer"] for ex in examples)}


def build_dataset(rows, tokenizer, template: str = "koalpaca_v1_1", cutoff_len: int = 256,
                  train_on_inputs: bool = False) -> SFTDataset:
    """Every row of a ``helpers.instruct.load`` DataFrame (or a list of dicts), tokenized; rows that truncation
    leaves without an answer token are dropped (and counted)."""
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    examples = [tokenize_record(rec, tokenizer, template, cutoff_len, train_on_inputs) for rec in records]
    kept = [ex for ex in examples if ex["n_answer"] > 0]
    if not kept:
        raise ValueError(f"no example keeps an answer token with cutoff_len={cutoff_len} "
                         f"({len(records)} rows read); raise cutoff_len")
    return SFTDataset(kept, {"rows": len(records), "examples": len(kept), "dropped_no_answer": len(records) - len(kept),
                             "truncated": sum(ex["truncated"] for ex in examples)})


def split_rows(df, eval_rows: int = 24, seed: int = 0, threshold: float = 0.7):
    """``(train, held_out)`` with no held-out row a near-duplicate of a training row: rows whose instructions reach
    ROUGE-L >= ``threshold`` (``helpers.instruct.near_duplicates``) are linked, and each connected group
    (``networkx``) goes to one side whole. Deterministic for a given ``seed``."""
    import networkx as nx
    import numpy as np

    from . import instruct

    df = df.reset_index(drop=True)
    if eval_rows <= 0 or eval_rows >= len(df):
        raise ValueError(f"eval_rows must be between 1 and {len(df) - 1}, got {eval_rows}")
    inputs = df["input"].fillna("").astype(str) if "input" in df else ""
    texts = (df["instruction"].astype(str) + " " + inputs).str.strip()
    dups = instruct.near_duplicates(texts.tolist(), threshold)
    graph = nx.empty_graph(len(df))  # one node per row
    graph.add_edges_from(zip(dups.pairs["i"].astype(int), dups.pairs["j"].astype(int)))
    order = sorted(sorted(group) for group in nx.connected_components(graph))
    np.random.default_rng(seed).shuffle(order)
    held: list[int] = []
    for group in order:  # whole groups while they fit (the first one always)
        if not held or len(held) + len(group) <= eval_rows:
            held += group
    return df.drop(index=held).reset_index(drop=True), df.iloc[sorted(held)].reset_index(drop=True)


def mask_table(example: dict, tokenizer):
    """One tokenized example as a table: position, token text, id, label, trained?"""
    import pandas as pd

    pieces = tokenizer.convert_ids_to_tokens(example["input_ids"])
    text = [tokenizer.convert_tokens_to_string([piece]) for piece in pieces]
    return pd.DataFrame({"token": text, "id": example["input_ids"], "label": example["labels"],
                         "trained": [lab != IGNORE_INDEX for lab in example["labels"]]})


def collator(tokenizer, pad_to_multiple_of: int | None = None):
    """Right-pads ``input_ids`` with the pad token, ``attention_mask`` with 0, ``labels`` with -100."""
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, padding=True, pad_to_multiple_of=pad_to_multiple_of,
                                  label_pad_token_id=IGNORE_INDEX, return_tensors="pt")


# =========================================================================== LoRA presets and precision

# target modules per family: "attention" is what the well-known recipes used (KoAlpaca/Polyglot, BLOOM: the fused
# query_key_value; alpaca-lora on LLaMA: q_proj, v_proj); "all": every linear layer of the blocks (the QLoRA paper's).
_FUSED_QKV = {"attention": ["query_key_value"], "all": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"]}
_SPLIT_QKV = {"attention": ["q_proj", "v_proj"],
              "all": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
TARGETS = {"gpt_neox": _FUSED_QKV, "bloom": _FUSED_QKV, "llama": _SPLIT_QKV, "qwen2": _SPLIT_QKV}


def target_modules(family: str, targets: str | Sequence[str] = "attention") -> list[str]:
    """The module names LoRA wraps for ``family`` (``"attention"``, ``"all"`` or an explicit list)."""
    if not isinstance(targets, str):
        return list(targets)
    if family not in TARGETS:
        raise ValueError(f"no LoRA preset for family {family!r}; known: {', '.join(TARGETS)}")
    if targets not in TARGETS[family]:
        raise ValueError(f"targets must be 'attention', 'all' or a list of module names, got {targets!r}")
    return list(TARGETS[family][targets])


def lora_config(family: str, r: int = 8, alpha: int = 16, dropout: float = 0.05,
                targets: str | Sequence[str] = "attention"):
    """A ``peft.LoraConfig`` for a causal LM of ``family``; ``peft.get_peft_model(model, config)`` freezes the model
    and wraps the target modules."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, bias="none", task_type="CAUSAL_LM",
                      target_modules=target_modules(family, targets))


def manual_lora_linear(x, weight, bias, lora_a, lora_b, scaling: float):
    """The LoRA forward pass written out: ``x W^T + b + scaling * (x A^T) B^T``. ``W`` (out x in) is frozen;
    ``A`` (r x in) and ``B`` (out x r) are trained, so the update ``scaling * B A`` has rank at most r. (Dropout,
    active only in training, is left out.)"""
    import torch

    y = torch.nn.functional.linear(x, weight, bias)
    return y + scaling * torch.nn.functional.linear(torch.nn.functional.linear(x, lora_a), lora_b)


def resolve_precision(precision: str = "auto", hw=None) -> str:
    """``"fp32"``, ``"fp16"`` or ``"bf16"`` for this hardware. ``auto``: bf16 on a CUDA GPU that has it (Ampere
    and newer), fp16 on older GPUs (T4, V100), fp32 on CPU/MPS. Asking for bf16 on a GPU without it, or fp16
    without CUDA, raises :class:`HardwareError` with what to use instead."""
    hw = hw or env.hardware()
    p = (precision or "auto").lower()
    if p not in ("auto", "fp32", "fp16", "bf16"):
        raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
    if p == "auto":
        return ("bf16" if hw.bf16 else "fp16") if hw.device == "cuda" else "fp32"
    if p == "bf16" and hw.device == "cuda" and not hw.bf16:
        raise HardwareError(f"bf16 was asked for, but this GPU ({hw.name}) has no bfloat16 support (it needs compute "
                            "capability 8.0 or newer: A100, L4, A10, RTX 30xx ...). On a T4 use precision='fp16' "
                            "(or 'auto').")
    if p == "bf16" and hw.device == "mps":
        raise HardwareError("bf16 training is not supported on Apple MPS here; use precision='fp32'")
    if p == "fp16" and hw.device != "cuda":
        raise HardwareError(f"fp16 mixed precision needs a CUDA GPU; this is {hw.device} ({hw.name}). "
                            "Use precision='fp32' (or 'auto').")
    return p


# =========================================================================== training

@dataclass
class TrainConfig:
    """Everything one LoRA run needs; ``RECIPES`` holds the named ones."""
    model_id: str = "polyglot-ko-1.3b"
    profile: str | None = None  # None: LLM_SURVEY_PROFILE or auto
    data: str = "koalpaca_v1_1"  # helpers.instruct name or file
    data_revision: str | None = None  # real profile: the dataset commit to pin
    template: str = "koalpaca_v1_1"
    cutoff_len: int = 256
    train_on_inputs: bool = False
    eval_rows: int = 24
    method: str = "lora"  # "lora" or "qlora" (the base in 4-bit NF4; CUDA only)
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: str | list = "attention"
    precision: str = "auto"
    gradient_checkpointing: bool = True
    max_steps: int = 60
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 3e-4
    warmup_steps: int = 5
    scheduler: str = "cosine"
    weight_decay: float = 0.0
    logging_steps: int = 5
    eval_steps: int = 0  # 0: no evaluation during training
    save_steps: int = 0  # 0: save only at the end
    save_total_limit: int = 2
    seed: int = 0
    output_dir: str | None = None  # None: a folder under the system temp dir
    progress: bool | None = None  # tqdm bar; None: off in CI
    threads: int | None = None  # torch CPU threads while training; None: torch's default

    def __post_init__(self):
        if self.method not in ("lora", "qlora"):
            raise ValueError(f"method must be 'lora' or 'qlora', got {self.method!r}")
        if isinstance(self.targets, str) and "," in self.targets:  # "q_proj,v_proj" (the command line's form)
            self.targets = self.targets.split(",")


RECIPES: dict[str, dict] = {
    # CPU, a few seconds: the polyglot-ko-1.3b stand-in learns the four toy_tasks in the KoAlpaca template; r=16 on
    # every linear layer of 64-wide blocks, too small to gain from a second thread (on shared cores: many times slower)
    "tiny": dict(model_id="polyglot-ko-1.3b", profile="tiny", data="toy_tasks", targets="all", r=16, alpha=16,
                 dropout=0.0, lr=3e-3, scheduler="constant_with_warmup", max_steps=150, batch_size=8,
                 cutoff_len=128, warmup_steps=10, logging_steps=10, eval_steps=50, eval_rows=24,
                 gradient_checkpointing=False, threads=1),
    # Colab T4 (16 GB): the 1.3B base in fp16 with LoRA on query_key_value (the KoAlpaca recipe's shape)
    "polyglot-ko-1.3b-lora": dict(model_id="polyglot-ko-1.3b", profile="real", method="lora", r=8, alpha=16,
                                  dropout=0.05, targets="attention", lr=3e-4, max_steps=300, batch_size=4,
                                  grad_accum=4, cutoff_len=512, logging_steps=10, eval_steps=50,
                                  save_steps=100, precision="auto"),
    # Colab T4: the 5.8B base in 4-bit NF4 + double quantization, LoRA on all linear layers (QLoRA)
    "polyglot-ko-5.8b-qlora": dict(model_id="polyglot-ko-5.8b", profile="real", method="qlora", r=16,
                                   alpha=32, dropout=0.05, targets="all", lr=2e-4, max_steps=300,
                                   batch_size=2, grad_accum=8, cutoff_len=512, logging_steps=10,
                                   eval_steps=50, save_steps=100, precision="auto"),
}


def recipe(name: str, **overrides) -> TrainConfig:
    """A named recipe (``RECIPES``) as a :class:`TrainConfig`, with ``overrides`` applied."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    return TrainConfig(**{**RECIPES[name], **{k: v for k, v in overrides.items() if v is not None}})


def _output_dir(cfg: TrainConfig) -> Path:
    default = Path(tempfile.gettempdir()) / "open-llm-survey" / "lora" / f"{cfg.model_id}-{cfg.method}"
    path = Path(cfg.output_dir or default).resolve()
    if path == env.REPO_ROOT or env.REPO_ROOT in path.parents:
        raise ValueError(f"output_dir {path} is inside the repository; put checkpoints in a temp or build folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_model(model, family: str, cfg: TrainConfig):
    """k-bit preparation (QLoRA: norms in fp32, base frozen), activation checkpointing and ``peft.get_peft_model``."""
    from peft import get_peft_model, prepare_model_for_kbit_training

    if cfg.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    if cfg.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # the frozen embeddings' output must carry gradients
        model.config.use_cache = False
    return get_peft_model(model, lora_config(family, cfg.r, cfg.alpha, cfg.dropout, cfg.targets))


def load_rows(cfg: TrainConfig):
    """``cfg.data``'s rows: :func:`toy_tasks` or ``instruct.load`` (a known name in the real profile: the real dataset
    at ``data_revision`` or the revision ``sources.yaml`` records); ``df.attrs["note"]`` says what they are."""
    from . import instruct

    if cfg.data == "toy_tasks":
        return toy_tasks()
    df = instruct.load(cfg.data, profile=cfg.profile, revision=cfg.data_revision)
    df.attrs["note"] = f"{df.attrs.get('source', cfg.data)} ({len(df)} rows)"
    return df


# Four instruction-following tasks a model of 64 hidden units can learn from a hundred examples and carry over to
# unseen sentences: the answer depends on the input in a learnable way, unlike open questions no tiny model can know.
TOY_TASKS = {
    "다음 문장이 물음표로 끝나나요? 예 또는 아니요로 답하세요.":
        lambda words: "예" if words[-1].endswith("?") else "아니요",
    "다음 문장에 숫자가 들어 있나요? 예 또는 아니요로 답하세요.":
        lambda words: "예" if any(ch.isdigit() for w in words for ch in w) else "아니요",
    "다음 문장의 첫 어절을 쓰세요.": lambda words: words[0],
    "다음 문장의 마지막 어절을 쓰세요.": lambda words: words[-1],
}


def toy_tasks(n: int = 240, seed: int = 0, min_words: int = 4, max_chars: int = 60):
    """Rows (``instruction``, ``input``, ``output``) of :data:`TOY_TASKS` over short sentences of ``data/corpus/ko``,
    each used once, deterministic for ``seed``: held-out rows use sentences the training rows never showed, so a
    falling held-out loss means the model learned to follow the instruction."""
    import random

    import pandas as pd

    from . import zoo

    lines = [ln for ln in zoo.corpus_lines("ko") if len(ln) <= max_chars and len(ln.split()) >= min_words]
    random.Random(seed).shuffle(lines)
    if len(lines) < n:
        raise ValueError(f"only {len(lines)} corpus sentences fit (<= {max_chars} chars, >= {min_words} words)")
    df = pd.DataFrame([{"instruction": instruction, "input": line, "output": answer(line.split())}
                       for line, (instruction, answer) in zip(lines[:n], itertools.cycle(TOY_TASKS.items()))])
    df.attrs["note"] = (f"toy_tasks: {n} rows of four instruction-following tasks over sentences of our corpus "
                        "(helpers.lora.toy_tasks), in the KoAlpaca template")
    return df


def answer_loss(model, dataset: SFTDataset, tokenizer, batch_size: int = 16) -> float:
    """Mean cross-entropy over the answer tokens (labels != -100) of ``dataset``, token-weighted."""
    import torch

    coll, device, was_training = collator(tokenizer), next(model.parameters()).device, model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(dataset), batch_size):
            batch = coll(dataset[i:i + batch_size]).to(device)
            tokens = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())  # token t predicts token t + 1
            total += float(model(**batch).loss) * tokens  # the model's loss is the mean over these tokens
            count += tokens
    model.train(was_training)
    return total / max(count, 1)


def _run_log(live: bool, title: str, stop_after: int | None):
    """A ``TrainerCallback`` that collects this run's loss (and eval loss) logs, redraws a chart every 4 logs when
    ``live``, and stops training after step ``stop_after`` (saving a checkpoint there), as an interruption would."""
    from transformers import TrainerCallback

    logged = ("loss", "eval_loss", "learning_rate", "grad_norm")

    class RunLog(TrainerCallback):
        def __init__(self):
            self.rows: list[dict] = []
            self.handle = None

        def on_log(self, args, state, control, logs=None, **kw):
            row = {k: float(v) for k, v in (logs or {}).items() if k in logged}
            if row and state.is_world_process_zero:
                self.rows.append({"step": state.global_step, **row})
                if live and len(self.rows) % 4 == 0:
                    self.draw()

        def on_step_end(self, args, state, control, **kw):
            if stop_after and state.global_step >= stop_after:
                control.should_save = control.should_training_stop = True

        def on_train_end(self, args, state, control, **kw):
            if live and state.is_world_process_zero:
                self.draw()

        def frame(self):
            import pandas as pd

            return pd.DataFrame(self.rows, columns=["step", *logged]).groupby("step", as_index=False).first()

        def draw(self):
            import matplotlib.pyplot as plt
            from IPython.display import display

            fig = loss_figure(self.frame(), title)
            if self.handle is None:
                self.handle = display(fig, display_id=True)
            else:
                self.handle.update(fig)
            plt.close(fig)

    return RunLog()


def loss_figure(history, title: str = ""):
    """Training loss (and held-out answer loss where logged) against the step."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for column, marker, label in (("loss", ".", "train loss (answer tokens)"),
                                  ("eval_loss", "o", "held-out answer loss")):
        if column in history and history[column].notna().any():
            logged = history.dropna(subset=[column])
            ax.plot(logged["step"], logged[column], marker=marker, label=label)
    ax.set(xlabel="step", ylabel="cross-entropy", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


@dataclass
class TrainResult:
    """What :func:`train` did: ``model`` is the PeftModel (base + adapter), ``info`` the base's ``zoo.ModelInfo``,
    ``history`` this run's logged losses, ``trainable`` (trainable, total, %)."""
    model: Any
    tokenizer: Any
    info: Any
    trainer: Any
    config: TrainConfig
    history: Any
    eval_before: float
    eval_after: float
    steps: int
    seconds: float
    precision: str
    trainable: tuple
    output_dir: Path
    data_note: str
    eval_rows: int
    mean_input_tokens: float  # of the training examples (unpadded)

    @property
    def drop(self) -> float:
        """Relative fall of the held-out answer loss (0.3 = 30 %)."""
        return 1 - self.eval_after / self.eval_before

    def summary(self) -> dict:
        t, n, share = self.trainable
        return {"model": self.info.label, "method": self.config.method, "precision": self.precision,
                "steps": self.steps, "seconds": round(self.seconds, 1), "trainable": t, "total": n,
                "trainable_%": round(share, 3), "eval_before": round(self.eval_before, 4),
                "eval_after": round(self.eval_after, 4), "drop_%": round(100 * self.drop, 1)}


def train(cfg: TrainConfig, *, resume: bool | str = False, live: bool = False, echo: bool = False,
          stop_after: int | None = None, hw=None) -> TrainResult:
    """Fine-tune ``cfg.model_id`` with LoRA/QLoRA through ``transformers.Trainer``. ``resume=True`` continues from
    the last checkpoint in ``output_dir`` (``"path"``: from that checkpoint); ``stop_after=k`` stops (and saves)
    after step ``k``, as an interruption would. ``live`` redraws a loss chart in Jupyter; ``echo`` prints each
    log line. The held-out answer loss is measured before and after (:func:`answer_loss`)."""
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments, set_seed

    from . import zoo

    hw = hw or env.hardware()
    set_seed(cfg.seed)
    precision = resolve_precision(cfg.precision, hw)
    out = _output_dir(cfg)
    # the base: QLoRA's in 4-bit NF4 (zoo.load refuses it without CUDA), else in the training precision
    # (16-bit on a GPU, fp32 on a CPU); peft keeps the trainable adapters in fp32
    dtype = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[precision]
    model, tok, info = zoo.load(cfg.model_id, cfg.profile, dtype=dtype,
                                quantization="4bit" if cfg.method == "qlora" else None, device=hw.device)
    rows = load_rows(cfg)
    train_df, eval_df = split_rows(rows, cfg.eval_rows, cfg.seed)
    train_ds = build_dataset(train_df, tok, cfg.template, cfg.cutoff_len, cfg.train_on_inputs)
    eval_ds = build_dataset(eval_df, tok, cfg.template, cfg.cutoff_len, train_on_inputs=False)
    model = prepare_model(model, info.family, cfg)
    n_trainable, n_total = model.get_nb_trainable_parameters()
    log = _run_log(live, f"LoRA on {info.label}", stop_after)
    progress = not (live or echo) and (not env.in_ci() if cfg.progress is None else cfg.progress)
    args = TrainingArguments(
        output_dir=str(out), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, lr_scheduler_type=cfg.scheduler, warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, logging_steps=cfg.logging_steps,
        eval_strategy="steps" if cfg.eval_steps else "no", eval_steps=cfg.eval_steps or None,
        save_strategy="steps", save_steps=cfg.save_steps or cfg.max_steps, save_total_limit=cfg.save_total_limit,
        fp16=precision == "fp16", bf16=precision == "bf16", use_cpu=hw.device == "cpu",
        optim="paged_adamw_8bit" if cfg.method == "qlora" else "adamw_torch",
        report_to=[], disable_tqdm=not progress, seed=cfg.seed, data_seed=cfg.seed,
        dataloader_num_workers=0, dataloader_pin_memory=hw.device == "cuda", remove_unused_columns=False,
        ddp_find_unused_parameters=False)  # gradient checkpointing, if any, is set up in prepare_model
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds if cfg.eval_steps else None,
                      data_collator=collator(tok, 8 if hw.device == "cuda" else None), callbacks=[log])
    if not echo:
        trainer.remove_callback(PrinterCallback)  # it prints each log line (disable_tqdm adds it instead of a bar)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or threads)
    try:
        before = answer_loss(model, eval_ds, tok)
        t0 = time.perf_counter()
        trainer.train(resume_from_checkpoint=resume or None)  # it ends with the loss's .item(): the GPU is done
        seconds = time.perf_counter() - t0
        after = answer_loss(model, eval_ds, tok)
    finally:
        torch.set_num_threads(threads)
    return TrainResult(
        model=model, tokenizer=tok, info=info, trainer=trainer, config=cfg, history=log.frame(), eval_before=before,
        eval_after=after, steps=trainer.state.global_step, seconds=seconds, precision=precision,
        trainable=(n_trainable, n_total, 100.0 * n_trainable / n_total), output_dir=out,
        data_note=rows.attrs.get("note", ""), eval_rows=len(eval_ds),
        mean_input_tokens=sum(len(ex["input_ids"]) for ex in train_ds) / len(train_ds))


def sample_answers(model, tokenizer, records: Sequence[Mapping[str, Any] | str], template: str = "koalpaca_v1_1",
                   max_new_tokens: int = 40) -> list[str]:
    """Greedy answers of ``model`` to instruction records (or plain instruction strings), prompted in ``template``;
    notebook 04 compares them before and after training."""
    from . import instruct

    device, was_training = next(model.parameters()).device, model.training
    model.eval()
    outs = []
    for rec in records:
        prompt = instruct.render({"instruction": rec} if isinstance(rec, str) else {**rec, "output": ""}, template)[0]
        ids = tokenizer(prompt, return_tensors="pt").to(device)
        gen = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,  # no gradients (generate's own)
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        outs.append(tokenizer.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    model.train(was_training)
    return outs


# =========================================================================== command line

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helpers.lora", description="LoRA fine-tuning of the registry's models.")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="fine-tune with LoRA/QLoRA (also under `accelerate launch`)")
    t.add_argument("--recipe", default="tiny", choices=list(RECIPES), help="starting point (default tiny)")
    for f in fields(TrainConfig):  # every setting is a flag (--max-steps 20); unset ones keep the recipe's
        kind = str(f.type).split(" ")[0]  # "int", "float", "str", "bool" (annotations are strings here)
        flag = "--" + f.name.replace("_", "-")
        if kind == "bool":  # --train-on-inputs / --no-train-on-inputs
            t.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction)
        else:
            t.add_argument(flag, dest=f.name, type={"int": int, "float": float}.get(kind, str))
    t.add_argument("--resume", nargs="?", const=True, default=False,
                   help="resume from the last checkpoint in --output-dir (or from the given one)")
    t.add_argument("--stop-after", type=int, default=None, help="stop (and save) after this step")
    t.add_argument("--adapter-dir", default=None, help="where to save the adapter (default <output-dir>/adapter)")
    t.add_argument("--json", default=None, help="write the run summary here")
    m = sub.add_parser("memory", help="print the memory table (full FT / LoRA / QLoRA per GPU)")
    m.add_argument("--models", nargs="*", default=None)
    m.add_argument("--seq-len", type=int, default=512)
    m.add_argument("--batch-size", type=int, default=1)
    m.add_argument("--no-gradient-checkpointing", dest="gradient_checkpointing", action="store_false")
    sub.add_parser("recipes", help="print the named recipes")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "recipes":
        for name, r in RECIPES.items():
            print(f"{name:<24} {json.dumps(r, ensure_ascii=False)}")
        return 0
    if args.cmd == "memory":
        from . import memory

        print(memory.assumptions())
        print(memory.fit_table(args.models, seq_len=args.seq_len, batch_size=args.batch_size,
                        gradient_checkpointing=args.gradient_checkpointing).to_string(index=False))
        return 0
    env.quiet()
    cfg = recipe(args.recipe, **{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    res = train(cfg, resume=args.resume, echo=os.environ.get("RANK", "0") == "0", stop_after=args.stop_after)
    if res.trainer.is_world_process_zero():
        adapter = Path(args.adapter_dir or res.output_dir / "adapter")
        res.model.save_pretrained(adapter)
        summary = json.dumps({**res.summary(), "world_size": int(os.environ.get("WORLD_SIZE", "1")),
                              "adapter": str(adapter), "data": res.data_note, "base": res.info.description},
                             ensure_ascii=False, indent=1)
        print(summary)
        if args.json:
            Path(args.json).write_text(summary, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
