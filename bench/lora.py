"""Benchmark: LoRA training speed and peak memory, against helpers.memory's estimate on CUDA.

    .venv/bin/python bench/lora.py [--steps 60] [--real]

* always: the tiny recipe (the polyglot-ko-1.3b stand-in, CPU or whatever device is present):
  steps per second, answer tokens per second, peak resident memory (MB).
* ``--real`` on CUDA: the real recipes (``polyglot-ko-1.3b-lora``, and ``polyglot-ko-5.8b-qlora``
  where bitsandbytes is installed) for ``--steps`` steps: tokens per second and peak GPU memory
  (``torch.cuda.max_memory_allocated``) next to ``helpers.memory.estimate`` for the same run. Needs
  the hub (or the models in the local HF cache).

Prints a table; never a timed test.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 1024 / 1024


def run(name: str, steps: int, profile: str | None) -> dict:
    import torch

    from helpers import env, lora, memory

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    out = tempfile.mkdtemp(prefix=f"bench-lora-{name}-")
    cfg = lora.recipe(name, max_steps=steps, eval_steps=0, save_steps=steps, output_dir=out, progress=False,
                      **({"profile": profile} if profile else {}))
    res = lora.train(cfg)
    row = {"recipe": name, "model": res.info.label, "device": env.hardware().device, "precision": res.precision,
           "method": cfg.method, "steps": res.steps, "seconds": round(res.seconds, 2),
           "steps/s": round(res.steps / res.seconds, 2)}
    # tokens per second from the mean example length (unpadded) times the examples processed
    seen = cfg.batch_size * cfg.grad_accum * res.steps * int(os.environ.get("WORLD_SIZE", "1"))
    row["tokens/s"] = round(res.mean_input_tokens * seen / res.seconds, 1)
    row["peak RSS MB"] = round(_peak_rss_mb())
    if torch.cuda.is_available():
        row["peak GPU GiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    if torch.cuda.is_available() and not res.info.is_tiny:  # the estimate is of the real model
        est = memory.estimate(cfg.model_id, cfg.method, batch_size=cfg.batch_size, seq_len=cfg.cutoff_len, r=cfg.r,
                              targets=cfg.targets, gradient_checkpointing=cfg.gradient_checkpointing)
        row["estimate GiB"] = round(est.total, 2)
    row["answer loss drop %"] = round(100 * res.drop, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--real", action="store_true", help="also the real recipes (CUDA and hub needed)")
    args = ap.parse_args()
    import pandas as pd
    import torch

    from helpers import env

    env.quiet()
    hw = env.hardware()
    print(f"device {hw.device} ({hw.name}), {hw.cpu_count} cpus, torch {torch.__version__}")
    rows = [run("tiny", args.steps, "tiny")]
    if args.real:
        if hw.device != "cuda":
            print("--real needs CUDA; skipped")
        else:
            rows.append(run("polyglot-ko-1.3b-lora", args.steps, "real"))
            if importlib.util.find_spec("bitsandbytes") is None:
                print("bitsandbytes not installed: QLoRA recipe skipped")
            else:  # an ImportError inside training is raised, not taken for a missing bitsandbytes
                rows.append(run("polyglot-ko-5.8b-qlora", args.steps, "real"))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
