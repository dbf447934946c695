"""Benchmark on one CUDA GPU: real-shape models (real config values, random weights) against the memory calculator.

    python bench/gpu.py [--part a|b|all] [--out DIR] [--models ID ...] [--budget-s S]
    python bench/gpu.py --smoke            # the same code paths on a CPU with tiny configs (make test runs this)

A model built from its ``config.json`` values (``data/memory.yaml``, each with its source URL) with random weights
takes the memory and time of the real one, so no weights are downloaded. Every figure is GiB (2^30 bytes).

Part a (memory, fits, throughput):
* polyglot-ko 1.3b / 5.8b / 12.8b, Llama-2-7B and the other models of notebook 04's fit table: full fine-tuning
  (fp32 weights, 16-bit autocast, torch AdamW: what ``transformers.Trainer`` does), LoRA (16-bit base, r=8 on
  ``helpers.lora``'s "attention" targets) and QLoRA (4-bit NF4 base with double quantization, bitsandbytes' paged
  8-bit AdamW), all at ``SETTINGS`` (sequence 512, batch 1, gradient checkpointing on): notebook 04's. ``STEPS``
  optimizer steps on random tokens; peak allocated and reserved memory (``torch.cuda.max_memory_*``) next to
  ``helpers.memory.estimate`` for the same run and the ratio estimate / used, where used = peak reserved + the
  CUDA context (what ``nvidia-smi`` would show; the estimate's 0.5 GiB overhead stands for that context).
* T4 emulation: the process is capped (``torch.cuda.set_per_process_memory_fraction``) so that the CUDA context
  and the allocator together get what ``helpers.memory`` lets a model use on a T4 (``memory.usable_gib``: 16 GiB
  times ``data/memory.yaml``'s usable share, a little under the 15 GiB the driver shows with ECC on), the number
  the calculator's verdict compares its estimate (context included) with; every run goes under the cap first,
  and the table says whether each of notebook 04's T4 verdicts held (ran) or not (out of memory). A run that
  fails under the cap runs again uncapped for its peak, unless its estimate exceeds this GPU. The QLoRA base is
  built in 16-bit and quantized layer by layer before the cap is set (a real 4-bit load never holds the 16-bit
  model either).
* training tokens/s (the timed steps after the first), and generation tokens/s of 1.3B and 5.8B in 16-bit at
  batch 1 and 8, 128 new tokens after a 64-token prompt (greedy, exactly 128 new tokens each), with the peak
  memory next to the inference estimate. Speeds are this GPU's, not a T4's.

Part b (KoBEST): the real-shape polyglot-ko-1.3b with random weights and our byte-level BPE (``zoo.tiny_tokenizer``;
the real tokenizer is on the hub), scored on our samples by ``helpers.kobest.evaluate`` and by lm-evaluation-harness
(``kobest.run_lm_eval``), 0 and 5 shots: the largest log-likelihood difference and the number of differing
predictions in fp32 (parity: exit status 1 if any prediction differs), and both wall times and their ratio in fp16.

Writes one table to stdout and to ``gpu_table_<part>.md`` in ``--out DIR`` (default ``build/gpu/``), with the raw
numbers in ``gpu_<part>.json`` there (rewritten after every run, so a run cut short leaves what it measured).

``--smoke`` runs the same functions on the CPU with each model's config shrunk (``SMOKE_SHAPE``) and short
sequences, in well under a minute. What needs CUDA is skipped and says so: the T4 cap, memory counters, fp16
scoring; QLoRA runs on the CPU where bitsandbytes is installed (its CPU backend), else it is skipped.

How to run it on a GPU machine without internet: ``bench/gpu.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

GiB = 2**30
OUT_DEFAULT = Path(__file__).resolve().parents[1] / "build" / "gpu"
# the issue's four real shapes first (they matter most if time runs out), then the rest of notebook 04's fit table
TRAIN_MODELS = ("polyglot-ko-1.3b", "polyglot-ko-5.8b", "polyglot-ko-12.8b", "llama-2-7b",
                "kanana-nano-2.1b-base", "bloom-560m", "qwen2.5-0.5b-instruct")
# the models of notebook 04's fit table (its section 3): each of their T4 verdicts is a claim checked here
NB04_MODELS = ("polyglot-ko-1.3b", "polyglot-ko-5.8b", "polyglot-ko-12.8b", "kanana-nano-2.1b-base",
               "bloom-560m", "qwen2.5-0.5b-instruct")
METHODS = ("full", "lora", "qlora")
SETTINGS = {"seq_len": 512, "batch_size": 1, "r": 8, "targets": "attention", "gradient_checkpointing": True}
STEPS = 3  # the first allocates the optimizer state; the others are timed
T4 = "T4 16GB"  # the row of data/memory.yaml whose verdicts are checked
GEN_MODELS, GEN_BATCHES, PROMPT_TOKENS, NEW_TOKENS = ("polyglot-ko-1.3b", "polyglot-ko-5.8b"), (1, 8), 64, 128
KOBEST_MODEL, KOBEST_SHOTS, KOBEST_BATCH = "polyglot-ko-1.3b", (0, 5), 8
PARITY_ATOL = 1e-3  # fp32 log-likelihoods of two batched scorers; predictions must be identical
# --smoke: every model shrunk to this, short sequences, few new tokens, a few KoBEST docs
SMOKE_SHAPE = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
SMOKE = {"seq_len": 64, "prompt_tokens": 8, "new_tokens": 8, "kobest_limit": 2, "kobest_shots": (0, 1)}


# --------------------------------------------------------------------------- models


def model_config(model_id: str, smoke: bool):
    """The ``transformers`` config of ``model_id`` from its recorded values; ``smoke``: shrunk to ``SMOKE_SHAPE``
    (vocabulary, family and everything else kept)."""
    from helpers import memory

    cfg = memory.config(model_id)
    if smoke:
        for key, value in SMOKE_SHAPE.items():
            setattr(cfg, key, value)
        if getattr(cfg, "intermediate_size", None):
            cfg.intermediate_size = 2 * SMOKE_SHAPE["hidden_size"]
        if getattr(cfg, "num_key_value_heads", None):
            cfg.num_key_value_heads = SMOKE_SHAPE["num_attention_heads"] // 2
        if getattr(cfg, "head_dim", None):
            cfg.head_dim = SMOKE_SHAPE["hidden_size"] // SMOKE_SHAPE["num_attention_heads"]
        if getattr(cfg, "layer_types", None):
            cfg.layer_types = cfg.layer_types[:SMOKE_SHAPE["num_hidden_layers"]]
    return cfg


def build(cfg, dtype, device: str, seed: int = 0):
    """A causal LM of ``cfg`` with random weights (the config class's own initialisation), made on ``device``."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    if next(model.parameters()).device.type != device:
        model.to(device)
    return model


def quantize_4bit(model, compute_dtype):
    """Replace every linear layer but the output head by bitsandbytes' 4-bit NF4 layer with double quantization,
    one layer at a time (``helpers.zoo.quantization_config``'s settings; transformers leaves the same head out)."""
    import bitsandbytes as bnb
    import torch

    head = model.get_output_embeddings()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, torch.nn.Linear) or child is head:
                continue
            q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                  compute_dtype=compute_dtype, compress_statistics=True, quant_type="nf4",
                                  device="meta")
            q.weight = bnb.nn.Params4bit(child.weight.data, requires_grad=False, quant_type="nf4", blocksize=64,
                                         compress_statistics=True, module=q).to(child.weight.device)
            if child.bias is not None:
                q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
            setattr(parent, name, q)
    model.is_loaded_in_4bit = True  # what transformers' 4-bit loader sets; peft reads it
    return model


# --------------------------------------------------------------------------- the device


class Device:
    """CUDA (memory counters, the T4 cap) or the CPU (--smoke)."""

    def __init__(self):
        import torch

        self.torch = torch
        self.cuda = torch.cuda.is_available()
        self.type = "cuda" if self.cuda else "cpu"
        self.total_gib = self.context_gib = 0.0
        self.name = "CPU"
        if self.cuda:
            self.name = torch.cuda.get_device_name(0)
            a = torch.randn(256, 256, device="cuda", dtype=torch.bfloat16)
            (a @ a).sum().item()  # load the context, cuBLAS and its kernels
            free, total = torch.cuda.mem_get_info()
            self.total_gib = total / GiB
            self.context_gib = (total - free - torch.cuda.memory_reserved()) / GiB
            del a
            self.bf16 = torch.cuda.is_bf16_supported()

    @property
    def dtype16(self):
        """The 16-bit type this GPU trains and generates in (bf16 where it has it, else fp16); fp32 on a CPU."""
        t = self.torch
        return (t.bfloat16 if self.bf16 else t.float16) if self.cuda else t.float32

    def t4_cap_gib(self) -> float:
        """What the allocator may hold on an emulated T4: its memory less this GPU's CUDA context."""
        return t4_gib() - self.context_gib

    def cap(self, gib: float | None) -> None:
        if self.cuda:
            self.torch.cuda.set_per_process_memory_fraction(1.0 if gib is None else gib / self.total_gib, 0)

    def free(self, collect: bool = False) -> None:
        """Give cached blocks back to the device and restart the peak counters; ``collect``: first free what
        sits in reference cycles (a failed run's traceback frames hold its tensors)."""
        if self.cuda:
            if collect:
                gc.collect()
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def peaks(self) -> dict:
        """Peak allocated and reserved memory since :meth:`free`, and the CUDA context now (what the device has
        in use beyond the allocator's reserve: it grows as libraries load their kernels)."""
        if not self.cuda:
            return {}
        c = self.torch.cuda
        free, total = c.mem_get_info()
        return {"peak_alloc_gib": c.max_memory_allocated() / GiB, "peak_reserved_gib": c.max_memory_reserved() / GiB,
                "context_gib": (total - free - c.memory_reserved()) / GiB}

    def warm_up(self, model_id: str, methods) -> None:
        """Load the kernels the runs will use (tiny shapes), then measure the CUDA context again: the T4 cap
        leaves room for the context as it will be."""
        for method in methods:
            got = train_run(self, model_id, method, True, None)
            if not got.get("ok"):
                raise RuntimeError(f"warm-up ({model_id}, {method}, tiny shape) failed: {got.get('error')}")
            self.context_gib = max(self.context_gib, got["context_gib"])


def t4_gib() -> float:
    """The emulated T4's memory, CUDA context included: what ``helpers.memory`` lets a model use on a T4
    (``memory.usable_gib``: the data sheet's 16 GiB times the usable share, ECC reserve and fragmentation left
    out), so that a run under the cap checks exactly the calculator's verdict."""
    from helpers import memory

    return memory.usable_gib(T4)


def is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _error(exc: BaseException) -> str:
    """A failure for the table: the exception's type and the first line of its message (which may be empty)."""
    first = next(iter(str(exc).splitlines()), "")
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


# --------------------------------------------------------------------------- part a: training


def train_run(dev: Device, model_id: str, method: str, smoke: bool, cap_gib: float | None) -> dict:
    """``STEPS`` optimizer steps of ``method`` on random tokens; peaks, step times, or where it ran out of memory."""
    out: dict = {"model": model_id, "method": method, "capped_gib": cap_gib, "stage": "build"}
    dev.cap(None)
    try:
        _train(dev, model_id, method, smoke, cap_gib, out)
    except Exception as exc:  # noqa: BLE001 - out of memory is a result; anything else is reported as it is
        out.update(ok=False, oom=is_oom(exc), error=_error(exc))
        out.update(dev.peaks())
    # the model, its optimizer and their tensors are gone with _train's frame (peft's wrappers hold reference
    # cycles, hence the collection): the next run starts from an empty allocator
    dev.cap(None)
    dev.free(collect=True)
    return out


def _train(dev: Device, model_id: str, method: str, smoke: bool, cap_gib: float | None, out: dict) -> None:
    import torch

    from helpers import lora, zoo

    seq, batch = (SMOKE["seq_len"] if smoke else SETTINGS["seq_len"]), SETTINGS["batch_size"]
    cfg = model_config(model_id, smoke)
    if method == "qlora":  # quantized before the cap, layer by layer (module docstring)
        model = quantize_4bit(build(cfg, dev.dtype16, dev.type), dev.dtype16)
        dev.free()
        dev.cap(cap_gib)
    else:
        dev.cap(cap_gib)
        # full: fp32 weights (the master copy) under 16-bit autocast; LoRA: the frozen base in 16-bit
        model = build(cfg, torch.float32 if method == "full" else dev.dtype16, dev.type)
        dev.free()
    out["stage"] = "prepare"
    if method == "full":
        if SETTINGS["gradient_checkpointing"]:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
        params = list(model.parameters())
        n = sum(p.numel() for p in params)
        out["trainable"], out["parameters"] = n, n
    else:
        tc = lora.TrainConfig(model_id=model_id, method=method, r=SETTINGS["r"], alpha=2 * SETTINGS["r"],
                              targets=SETTINGS["targets"], gradient_checkpointing=SETTINGS["gradient_checkpointing"])
        model = lora.prepare_model(model, zoo.spec(model_id).family, tc)
        params = [p for p in model.parameters() if p.requires_grad]
        out["trainable"], out["parameters"] = model.get_nb_trainable_parameters()  # 4-bit weights counted right
    if method == "qlora":  # lora.train's optim="paged_adamw_8bit"
        import bitsandbytes as bnb

        opt = bnb.optim.PagedAdamW8bit(params, lr=1e-5)
    else:  # lora.train's optim="adamw_torch"
        opt = torch.optim.AdamW(params, lr=1e-5)
    model.train()
    x = torch.randint(0, cfg.vocab_size, (batch, seq), device=dev.type, generator=torch.Generator(dev.type))
    times = []
    for step in range(STEPS):
        out["stage"] = f"step {step + 1}"
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=dev.dtype16, enabled=dev.cuda):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dev.sync()
        times.append(time.perf_counter() - t0)
    out.update(dev.peaks())
    out.update(ok=True, stage="done", loss=float(loss.detach()), step_s=times,
               tokens_per_s=batch * seq * (len(times) - 1) / sum(times[1:]))


def train_rows(dev: Device, models, smoke: bool, deadline: float, record, warm: bool = True) -> None:
    """Every (model, method): under the T4 cap first, then uncapped where the capped run ran out of memory."""
    from helpers import memory

    have_bnb = _importable("bitsandbytes")
    if dev.cuda and models and warm:
        dev.warm_up(models[0], [m for m in METHODS if m != "qlora" or have_bnb])
    for model_id in models:
        for method in METHODS:
            est = memory.estimate(model_id, method, **SETTINGS)
            row = {"part": "a", "what": "train", "model": model_id, "method": method,
                   "estimate_gib": est.total, "t4_claim": est.fits(T4), "nb04_claim": model_id in NB04_MODELS}
            if time.monotonic() > deadline:
                record({**row, "skipped": "time budget spent (--budget-s)"})
                continue
            if method == "qlora" and not have_bnb:
                record({**row, "skipped": "bitsandbytes is not installed (QLoRA's 4-bit layers)"})
                continue
            if not dev.cuda:
                record({**row, **train_run(dev, model_id, method, smoke, None),
                        "t4": "skipped: the T4 cap needs CUDA"})
                continue
            capped = train_run(dev, model_id, method, smoke, dev.t4_cap_gib())
            row["t4"] = "held" if capped["ok"] else (f"out of memory at {capped['stage']}" if capped.get("oom")
                                                      else f"failed: {capped.get('error')}")
            if capped["ok"] or not capped.get("oom"):  # held, or broke for another reason (reported as it is)
                record({**row, **capped})
            elif est.total > dev.total_gib:
                record({**row, **capped, "ok": False,
                        "note": f"not run uncapped: estimate {est.total:.0f} GiB > this GPU's {dev.total_gib:.0f}"})
            else:
                record({**row, **train_run(dev, model_id, method, smoke, None)})


# --------------------------------------------------------------------------- part a: generation


def generation_rows(dev: Device, smoke: bool, deadline: float, record) -> None:
    prompt, new = (SMOKE["prompt_tokens"], SMOKE["new_tokens"]) if smoke else (PROMPT_TOKENS, NEW_TOKENS)
    for model_id in GEN_MODELS[:1] if smoke else GEN_MODELS:
        if time.monotonic() > deadline:
            record({"part": "a", "what": "generate", "model": model_id, "skipped": "time budget spent (--budget-s)"})
            continue
        try:
            _generate(dev, model_id, smoke, prompt, new, record)
        except Exception as exc:  # noqa: BLE001 - reported in the table, the other rows still run
            record({"part": "a", "what": "generate", "model": model_id, "ok": False, "error": _error(exc)})
        dev.free(collect=True)


def _generate(dev: Device, model_id: str, smoke: bool, prompt: int, new: int, record) -> None:
    import torch

    from helpers import memory

    cfg = model_config(model_id, smoke)
    model = build(cfg, dev.dtype16, dev.type).eval()
    try:
        for batch in GEN_BATCHES:
            dtype = str(dev.dtype16).removeprefix("torch.")
            est = memory.estimate(model_id, "inference", dtype=dtype, batch_size=batch, seq_len=prompt + new)
            x = torch.randint(0, cfg.vocab_size, (batch, prompt), device=dev.type)
            kw = {"attention_mask": torch.ones_like(x), "do_sample": False, "pad_token_id": 0}
            with torch.no_grad():
                model.generate(x, max_new_tokens=4, min_new_tokens=4, **kw)  # warm-up
                dev.sync()
                dev.free()
                t0 = time.perf_counter()
                ids = model.generate(x, max_new_tokens=new, min_new_tokens=new, **kw)
                dev.sync()
                seconds = time.perf_counter() - t0
            made = ids.shape[1] - prompt
            record({"part": "a", "what": "generate", "model": model_id, "method": f"{dtype} batch {batch}",
                    "batch": batch, "new_tokens": made, "seconds": seconds, "tokens_per_s": batch * made / seconds,
                    "estimate_gib": est.total, "ok": made == new, **dev.peaks()})
    finally:
        del model


# --------------------------------------------------------------------------- part b: KoBEST


def kobest_rows(dev: Device, smoke: bool, record) -> None:
    import torch

    from helpers import zoo

    limit = SMOKE["kobest_limit"] if smoke else None
    shots = SMOKE["kobest_shots"] if smoke else KOBEST_SHOTS
    tok = zoo.tiny_tokenizer("ko")
    cfg = model_config(KOBEST_MODEL, smoke)
    for dtype in (torch.float32, torch.float16):
        name = str(dtype).removeprefix("torch.")
        if dtype == torch.float16 and not dev.cuda:
            record({"part": "b", "what": "kobest", "model": KOBEST_MODEL, "method": f"{name} speed",
                    "skipped": "fp16 scoring needs CUDA"})
            continue
        try:
            model = build(cfg, dtype, dev.type).eval()
            _kobest(dev, model, tok, name, shots, limit, record)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            record({"part": "b", "what": "kobest", "model": KOBEST_MODEL, "method": name, "ok": False,
                    "error": _error(exc)})
        model = None
        dev.free(collect=True)


def _kobest(dev: Device, model, tok, name: str, shots, limit, record) -> None:
    from helpers import kobest

    # warm-up of both (imports, lm-eval's task index, kernels)
    kobest.run_lm_eval(model, tok, ["copa"], n_shot=0, limit=2, batch_size=KOBEST_BATCH, progress=False)
    kobest.evaluate(model, tok, "copa", n_shot=0, limit=2, cache=False, progress=False)
    for n in shots:
        dev.sync()
        t0 = time.perf_counter()
        ref = kobest.run_lm_eval(model, tok, kobest.TASKS, n_shot=n, limit=limit, batch_size=KOBEST_BATCH,
                                 progress=False)
        dev.sync()
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = {t: kobest.evaluate(model, tok, t, n_shot=n, limit=limit, cache=False, progress=False,
                                   batch_size=KOBEST_BATCH) for t in kobest.TASKS}
        dev.sync()
        t_ours = time.perf_counter() - t0
        diff, other, docs = 0.0, 0, 0
        for t in kobest.TASKS:
            cols = [c for c in ours[t].samples.columns if c.startswith("ll_")]
            for a, b in zip(ours[t].samples[cols].values.tolist(), ref[t]["lls"], strict=True):
                diff = max(diff, max(abs(x - y) for x, y in zip(a, b, strict=True)))
                other += a.index(max(a)) != b.index(max(b))
                docs += 1
        row = {"part": "b", "what": "kobest", "model": KOBEST_MODEL, "method": f"{name} {n}-shot",
               "dtype": name, "shots": n, "docs": docs,
               "requests": sum(r.info["requests"] for r in ours.values()), "lm_eval_s": t_ref,
               "ours_s": t_ours, "speed_ratio": t_ref / t_ours, "max_abs_dll": diff, "other_predictions": other}
        if name == "float32":
            row["ok"] = other == 0 and diff <= PARITY_ATOL
        record(row)


# --------------------------------------------------------------------------- table


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "lm_eval", "datasets", "pyarrow"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "-"
    return out


def _gib(v) -> str:
    return "" if v is None else f"{v:.2f}"


def table(rows: list[dict]) -> str:
    """One markdown table: a row per measurement."""
    head = ["part", "model", "run", "peak alloc GiB", "peak reserved GiB", "estimate GiB", "estimate / used",
            f"T4 verdict ({t4_gib():g} GiB)", "tokens/s", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        used = r["peak_reserved_gib"] + r["context_gib"] if "peak_reserved_gib" in r else None
        ratio = f"{r['estimate_gib'] / used:.2f}" if used and r.get("estimate_gib") and r.get("ok") else ""
        t4 = ""
        if r.get("what") == "train":
            claim = "fits" if r["t4_claim"] else "does not fit"
            src = "notebook 04" if r["nb04_claim"] else "estimate"
            if r.get("t4", "").startswith("skipped") or "skipped" in r:
                t4 = f"{src}: {claim}; not checked"
            elif r.get("t4", "").startswith("failed"):
                t4 = f"{src}: {claim}; the run failed (note)"
            else:
                held = r.get("t4") == "held"
                t4 = f"{src}: {claim}; {r['t4']} -> {'agrees' if held == r['t4_claim'] else 'DISAGREES'}"
        note = r.get("skipped") or r.get("note") or ""
        if r.get("what") == "kobest" and "skipped" not in r:
            note = (f"{r['docs']} docs, {r['requests']} requests; lm-eval {r['lm_eval_s']:.1f} s, ours "
                    f"{r['ours_s']:.1f} s ({r['speed_ratio']:.1f}x); largest dLL {r['max_abs_dll']:.1e}, "
                    f"{r['other_predictions']} other predictions" + ("" if r.get("ok", True) else "; PARITY FAILED"))
        elif r.get("what") == "train" and "skipped" not in r:
            if not r.get("ok"):
                note = "; ".join(x for x in (r.get("error", ""), note) if x)
            else:
                note = f"{r['trainable']:,} trainable of {r['parameters']:,}" + (f"; {note}" if note else "")
        run = r.get("method", "")
        tps = f"{r['tokens_per_s']:,.0f}" if r.get("tokens_per_s") else ""
        cells = [r["part"], r["model"], f"{r.get('what', '')} {run}".strip(), _gib(r.get("peak_alloc_gib")),
                 _gib(r.get("peak_reserved_gib")), _gib(r.get("estimate_gib")), ratio, t4, tps, note]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def header(dev: Device, smoke: bool, versions: dict) -> str:
    where = (f"{dev.name}, {dev.total_gib:.1f} GiB, CUDA context {dev.context_gib:.2f} GiB; T4 emulated with the "
             f"allocator capped at {dev.t4_cap_gib():.2f} GiB (+ the context = {t4_gib():g} GiB)" if dev.cuda
             else "CPU: no CUDA memory counters, no T4 cap")
    checkpointing = "gradient checkpointing" if SETTINGS["gradient_checkpointing"] else "no gradient checkpointing"
    mode = (f"SMOKE: tiny configs ({SMOKE_SHAPE['hidden_size']} wide, {SMOKE_SHAPE['num_hidden_layers']} layers; "
            f"one model per architecture), sequence {SMOKE['seq_len']}: checks the code paths, measures nothing"
            if smoke else f"real shapes from data/memory.yaml, random weights; sequence {SETTINGS['seq_len']}, batch "
            f"{SETTINGS['batch_size']}, {checkpointing}, LoRA r={SETTINGS['r']} on the {SETTINGS['targets']} targets")
    return f"{where}\n{mode}\n" + ", ".join(f"{k} {val}" for k, val in versions.items())


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["a", "b", "all"], default="all")
    ap.add_argument("--smoke", action="store_true", help="tiny configs on the CPU (or GPU): the code paths only")
    ap.add_argument("--models", nargs="+", default=list(TRAIN_MODELS), help="part a's training models")
    ap.add_argument("--budget-s", type=float, default=190.0,
                    help="part a starts no new model after this many seconds (default 190)")
    ap.add_argument("--out", type=Path, default=OUT_DEFAULT,
                    help="folder for gpu_table_<part>.md and gpu_<part>.json (default: build/gpu/ in the repository)")
    args = ap.parse_args(argv)

    from helpers import env, memory

    env.quiet()
    t_start = time.monotonic()
    dev = Device()
    if not dev.cuda and not args.smoke:  # `make bench` on a CPU: a 12.8B model in fp32 would not end well
        print("bench/gpu.py: no CUDA GPU here, and the real shapes need one (bench/gpu.md); "
              "`python bench/gpu.py --smoke` runs the code paths on the CPU")
        return 0
    versions = _versions()
    head = header(dev, args.smoke, versions)
    print(head, flush=True)
    rows: list[dict] = []
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    tag = args.part if args.part != "all" else "ab"

    last = [time.monotonic()]

    def record(row: dict) -> None:
        row["wall_s"], last[0] = time.monotonic() - last[0], time.monotonic()
        rows.append(row)
        brief = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if k != "step_s"}
        print(json.dumps(brief, ensure_ascii=False), flush=True)
        raw = {"header": head, "versions": versions, "device": dev.name, "total_gib": dev.total_gib,
               "context_gib": dev.context_gib, "smoke": args.smoke, "rows": rows}
        (out / f"gpu_{tag}.json").write_text(json.dumps(raw, indent=1, ensure_ascii=False), encoding="utf-8")

    deadline = t_start + args.budget_s
    if args.part in ("a", "all"):
        unknown = sorted(set(args.models) - set(TRAIN_MODELS))
        if unknown:
            ap.error(f"--models: {unknown} are not among {TRAIN_MODELS}")
        first = [m for m in TRAIN_MODELS if m in args.models]
        if args.smoke:  # shrunk, the polyglot-ko sizes are one model: one model per architecture
            types = {m: memory.facts().models[m].model_type for m in first}
            first = [m for m in first if next(k for k in first if types[k] == types[m]) == m]
        # what matters most first, in case the time budget runs out: polyglot-ko 1.3b and 5.8b, generation with
        # them, 12.8b and Llama-2-7B, then the smaller models of notebook 04's table
        train_rows(dev, first[:2], args.smoke, deadline, record)
        generation_rows(dev, args.smoke, deadline, record)
        train_rows(dev, first[2:], args.smoke, deadline, record, warm=False)
    if args.part in ("b", "all"):
        kobest_rows(dev, args.smoke, record)
    text = f"{head}\n\n{table(rows)}\n\n{time.monotonic() - t_start:.0f} s in all"
    print("\n" + text, flush=True)
    (out / f"gpu_table_{tag}.md").write_text(text + "\n", encoding="utf-8")
    failed = [r for r in rows if r.get("ok") is False and r.get("what") != "train"]
    broken = [r for r in rows if r.get("what") == "train" and r.get("ok") is False and not r.get("oom")]
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
