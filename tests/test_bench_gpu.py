"""bench/gpu.py: its --smoke run takes every code path of the GPU benchmark on the CPU (tiny configs), so the
script cannot rot between the rare runs on a GPU; and the claims it checks are notebook 04's."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import memory

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_fit_claims_checked_are_notebook_04s():
    """bench/gpu.py emulates a T4 for every model of notebook 04's fit table, with the notebook's settings."""
    bench = _bench()
    nb = json.loads((ROOT / "notebooks" / "04_lora_finetune.ipynb").read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    calls = [node for src in sources if "fit_table(" in src for node in ast.walk(ast.parse(src))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "fit_table"]
    assert len(calls) == 1, "notebook 04 should build its fit table with one memory.fit_table(...) call"
    call = calls[0]
    assert tuple(ast.literal_eval(call.args[0])) == bench.NB04_MODELS
    settings = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    assert all(bench.SETTINGS[k] == v for k, v in settings.items()), (settings, bench.SETTINGS)
    assert set(bench.NB04_MODELS) <= set(bench.TRAIN_MODELS)
    # the settings the notebook leaves to estimate's defaults (LoRA rank and targets, checkpointing) are the bench's
    defaults = {k: p.default for k, p in inspect.signature(memory.estimate).parameters.items()
                if p.kind is p.KEYWORD_ONLY}
    assert {k: defaults[k] for k in bench.SETTINGS} == bench.SETTINGS
    for model in bench.NB04_MODELS:
        for method in bench.METHODS:
            ours, nb04 = memory.estimate(model, method, **bench.SETTINGS), memory.estimate(model, method, **settings)
            assert ours == nb04, (model, method)  # the same estimate, so the same verdict on every GPU


def test_a_failure_is_named_by_its_type_and_first_line_even_without_a_message():
    bench = _bench()
    assert bench._error(RuntimeError()) == "RuntimeError"
    assert bench._error(MemoryError("out of memory\nTried to allocate 2 GiB")) == "MemoryError: out of memory"


@pytest.mark.slow
def test_smoke_run_takes_every_path_and_says_what_it_skipped(tmp_path):
    # on the CPU even where a GPU is present (a lab machine): the asserts below are the CPU path's
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    raw = json.loads((tmp_path / "gpu_ab.json").read_text(encoding="utf-8"))
    rows = raw["rows"]
    assert raw["smoke"] is True
    train = [r for r in rows if r["what"] == "train"]
    # one model per architecture family, every method; full and LoRA always run on the CPU
    assert {r["model"] for r in train} == {"polyglot-ko-1.3b", "llama-2-7b", "bloom-560m", "qwen2.5-0.5b-instruct"}
    for r in train:
        assert r["estimate_gib"] > 0
        if r["method"] == "qlora" and "skipped" in r:  # QLoRA runs on the CPU only where bitsandbytes is installed
            assert "bitsandbytes" in r["skipped"]
            continue
        assert r["t4"] == "skipped: the T4 cap needs CUDA", r
        assert r["ok"], r
        assert r["loss"] > 0 and r["tokens_per_s"] > 0
        assert 0 < r["trainable"] <= r["parameters"]
        if r["method"] != "full":
            assert r["trainable"] < r["parameters"] / 10  # LoRA trains a small share
    gen = [r for r in rows if r["what"] == "generate"]
    assert [r["batch"] for r in gen] == [1, 8] and all(r["ok"] and r["new_tokens"] == 8 for r in gen)
    kob = {r["method"]: r for r in rows if r["what"] == "kobest"}
    for shots in (0, 1):  # parity of our scorer and lm-evaluation-harness, in fp32
        r = kob[f"float32 {shots}-shot"]
        assert r["ok"] and r["other_predictions"] == 0 and r["docs"] == 10, r
    assert kob["float16 speed"]["skipped"] == "fp16 scoring needs CUDA"
    table = (tmp_path / "gpu_table_ab.md").read_text(encoding="utf-8")
    assert "SMOKE" in table and "| part | model | run |" in table
    assert len([ln for ln in table.splitlines() if ln.startswith("| a ") or ln.startswith("| b ")]) == len(rows)
    assert table in proc.stdout.replace("\r", "")  # the same table on stdout
