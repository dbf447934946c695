"""helpers.lora: masking, presets, hardware checks, training, adapters with peft, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import env, instruct, lora

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tok():
    from helpers import zoo

    return zoo.tiny_tokenizer("ko")


@pytest.fixture(scope="module")
def rows():
    return instruct.load("koalpaca_v1_1", profile="tiny")


# --------------------------------------------------------------------------- masking


def test_prompt_masked_answer_kept(tok, rows):
    rec = rows.iloc[0].to_dict()
    prompt, answer = instruct.render(rec, "koalpaca_v1_1", eos_token=tok.eos_token)
    ex = lora.tokenize_record(rec, tok, "koalpaca_v1_1", cutoff_len=4096)
    p_ids = tok(prompt)["input_ids"]
    a_ids = tok(answer, add_special_tokens=False)["input_ids"]
    assert ex["input_ids"] == p_ids + a_ids
    assert ex["labels"][:len(p_ids)] == [-100] * len(p_ids)
    assert ex["labels"][len(p_ids):] == a_ids
    assert ex["input_ids"][-1] == tok.eos_token_id  # the answer ends with EOS (template eos: true)
    trained = [i for i, lab in zip(ex["input_ids"], ex["labels"]) if lab != -100]
    assert tok.decode(trained) == answer
    assert ex["n_answer"] == len(a_ids) and not ex["truncated"]


def test_train_on_inputs_keeps_every_label(tok, rows):
    ex = lora.tokenize_record(rows.iloc[1].to_dict(), tok, train_on_inputs=True, cutoff_len=4096)
    assert ex["labels"] == ex["input_ids"]


@pytest.mark.parametrize("cutoff", [5, 17, 40])
def test_truncation_keeps_labels_aligned(tok, rows, cutoff):
    rec = rows.iloc[2].to_dict()
    full = lora.tokenize_record(rec, tok, cutoff_len=4096)
    cut = lora.tokenize_record(rec, tok, cutoff_len=cutoff)
    assert len(cut["input_ids"]) == len(cut["labels"]) == len(cut["attention_mask"]) == cutoff
    assert cut["input_ids"] == full["input_ids"][:cutoff]
    assert cut["labels"] == full["labels"][:cutoff]
    assert cut["truncated"]
    for i, lab in zip(cut["input_ids"], cut["labels"]):
        assert lab in (-100, i)


def test_truncation_inside_prompt_drops_the_example(tok, rows):
    df = rows.head(3)
    with pytest.raises(ValueError, match="cutoff_len"):
        lora.build_dataset(df, tok, cutoff_len=3)
    ds = lora.build_dataset(rows.head(10), tok, cutoff_len=60)
    assert ds.stats["examples"] + ds.stats["dropped_no_answer"] == 10
    assert all(any(label != -100 for label in ex["labels"]) for ex in ds)
    assert ds.stats["answer_tokens"] == sum(label != -100 for ex in ds for label in ex["labels"])
    with pytest.raises(ValueError):
        lora.tokenize_record({"instruction": "a", "output": "b"}, tok, cutoff_len=0)


def test_conversation_masked_per_assistant_turn(tok):
    turns = [{"role": "user", "text": "김치찌개 끓이는 법을 알려 주세요."},
             {"role": "assistant", "text": "먼저 김치를 볶은 뒤 물을 붓고 끓입니다."},
             {"role": "user", "text": "두부는 언제 넣나요?"},
             {"role": "assistant", "text": "마지막 5분 전에 넣으면 부서지지 않습니다."}]
    segs = instruct.render_conversation(turns, "vicuna_v1_1")
    ex = lora.tokenize_record(turns, tok, "vicuna_v1_1", cutoff_len=4096)
    pos = 0
    for k, s in enumerate(segs):
        ids = tok(s.text, add_special_tokens=(k == 0))["input_ids"]
        assert ex["input_ids"][pos:pos + len(ids)] == ids
        want = ids if s.loss else [-100] * len(ids)
        assert ex["labels"][pos:pos + len(ids)] == want, s.role
        pos += len(ids)
    assert pos == len(ex["input_ids"])
    assert sum(s.loss for s in segs) == 2


def test_collator_pads_labels_with_ignore_index(tok, rows):
    ds = lora.build_dataset(rows.head(4), tok, cutoff_len=200)
    batch = lora.collator(tok)([ds[i] for i in range(4)])
    lengths = [len(ds[i]["input_ids"]) for i in range(4)]
    assert batch["input_ids"].shape == (4, max(lengths))
    for i, n in enumerate(lengths):
        assert (batch["labels"][i, n:] == -100).all()
        assert (batch["attention_mask"][i, n:] == 0).all()
        assert batch["input_ids"][i, :n].tolist() == ds[i]["input_ids"]


def test_split_has_no_near_duplicate_across_sides(rows):
    train, held = lora.split_rows(rows, eval_rows=20, seed=0)
    assert len(train) + len(held) == len(rows)
    assert 20 <= len(held) <= 30
    for h in held["instruction"]:
        assert max(instruct.rouge_l(h, t) for t in train["instruction"]) < 0.7
    again = lora.split_rows(rows, eval_rows=20, seed=0)[1]
    assert again["instruction"].tolist() == held["instruction"].tolist()
    with pytest.raises(ValueError, match="eval_rows"):
        lora.split_rows(rows, eval_rows=0)


def test_mask_table(tok, rows):
    ex = lora.tokenize_record(rows.iloc[0].to_dict(), tok)
    t = lora.mask_table(ex, tok)
    assert len(t) == len(ex["input_ids"])
    assert t["trained"].sum() == ex["n_answer"]
    assert "".join(t.loc[~t["trained"], "token"]).startswith("### 질문:")


# --------------------------------------------------------------------------- presets and the LoRA maths


def _tiny_model():
    from transformers import AutoModelForCausalLM, GPTNeoXConfig

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(GPTNeoXConfig(vocab_size=300, hidden_size=32, num_hidden_layers=2,
                                                          num_attention_heads=4, intermediate_size=64))


@pytest.mark.parametrize("targets", ["attention", "all"])
def test_lora_config_wraps_the_preset_modules(targets):
    from peft import get_peft_model

    pm = get_peft_model(_tiny_model(), lora.lora_config("gpt_neox", r=4, alpha=8, targets=targets))
    wrapped = {n.rsplit(".", 2)[-2] for n, _ in pm.named_modules() if n.endswith(".lora_A")}
    assert wrapped == set(lora.target_modules("gpt_neox", targets))
    trainable, total = pm.get_nb_trainable_parameters()
    assert 0 < trainable < total
    assert all(("lora_" in n) == p.requires_grad for n, p in pm.named_parameters())  # the base is frozen


def test_presets_name_real_modules():
    assert lora.target_modules("gpt_neox") == ["query_key_value"]
    assert lora.target_modules("bloom") == ["query_key_value"]
    assert lora.target_modules("llama") == ["q_proj", "v_proj"]
    assert len(lora.target_modules("llama", "all")) == 7
    with pytest.raises(ValueError, match="preset"):
        lora.target_modules("t5")
    with pytest.raises(ValueError, match="targets"):
        lora.target_modules("llama", "some")


def test_manual_lora_forward_matches_peft():
    from peft import get_peft_model

    pm = get_peft_model(_tiny_model(), lora.lora_config("gpt_neox", r=4, alpha=8, dropout=0.0))
    layer = pm.base_model.model.gpt_neox.layers[0].attention.query_key_value
    torch.nn.init.normal_(layer.lora_B["default"].weight)  # B starts at zero; make the update visible
    x = torch.randn(3, 5, 32)
    base = layer.base_layer
    ours = lora.manual_lora_linear(x, base.weight, base.bias, layer.lora_A["default"].weight,
                                   layer.lora_B["default"].weight, layer.scaling["default"])
    torch.testing.assert_close(ours, layer(x), atol=1e-6, rtol=1e-5)
    assert not torch.allclose(ours, base(x))


# --------------------------------------------------------------------------- hardware checks

T4 = env.Hardware("cuda", "Tesla T4", 15.0, 14.7, False, 2)
A100 = env.Hardware("cuda", "NVIDIA A100-SXM4-40GB", 40.0, 39.0, True, 8)
CPU = env.Hardware("cpu", "x86_64", 8.0, 6.0, True, 2)


def test_precision_choices():
    assert lora.resolve_precision("auto", T4) == "fp16"
    assert lora.resolve_precision("auto", A100) == "bf16"
    assert lora.resolve_precision("auto", CPU) == "fp32"
    assert lora.resolve_precision("fp16", T4) == "fp16"
    with pytest.raises(lora.HardwareError, match="T4.*fp16"):
        lora.resolve_precision("bf16", T4)
    with pytest.raises(lora.HardwareError, match="CUDA"):
        lora.resolve_precision("fp16", CPU)
    with pytest.raises(ValueError):
        lora.resolve_precision("int8", CPU)


def test_qlora_needs_cuda_and_a_known_method(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="method"):
        lora.recipe("tiny", method="qlor")
    monkeypatch.setattr(env, "hardware", lambda: CPU)
    cfg = lora.recipe("tiny", method="qlora", output_dir=str(tmp_path / "q"))
    with pytest.raises(env.ProfileError, match="4bit quantization needs CUDA.*LoRA instead of QLoRA"):
        lora.train(cfg)
    cfg = lora.recipe("tiny", precision="bf16", output_dir=str(tmp_path / "b"))
    with pytest.raises(lora.HardwareError, match="no bfloat16"):
        lora.train(cfg, hw=T4)


def test_checkpoints_never_in_the_repo():
    cfg = lora.recipe("tiny", output_dir=str(env.REPO_ROOT / "runs"))
    with pytest.raises(ValueError, match="inside the repository"):
        lora._output_dir(cfg)
    assert not (env.REPO_ROOT / "runs").exists()


# --------------------------------------------------------------------------- training (tiny stand-in)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("lora-run")
    cfg = lora.recipe("tiny", max_steps=40, eval_steps=0, logging_steps=5, progress=False,
                      output_dir=str(out / "run"))
    return lora.train(cfg)


def test_tiny_training_lowers_the_held_out_answer_loss(trained):
    assert trained.steps == 40
    assert trained.eval_after < trained.eval_before - 0.15, trained.summary()  # nats, after only 40 steps
    h = trained.history.dropna(subset=["loss"])
    assert h["loss"].iloc[-3:].mean() < h["loss"].iloc[:2].mean()
    t, n, share = trained.trainable
    assert 0 < share < 30  # r=64 on 64-wide blocks; real models: well under 1 %
    assert trained.precision == lora.resolve_precision("auto")  # fp32 on a CPU, 16-bit on a GPU
    assert trained.info.is_tiny and "tiny stand-in" in trained.info.description
    assert not Path(trained.output_dir).is_relative_to(env.REPO_ROOT)


def test_adapter_round_trip_and_merge_give_the_same_logits(trained, tmp_path):
    """The steps notebook 04 shows with peft's own API: save, reload onto a fresh base, merge."""
    from peft import PeftModel

    from helpers import zoo

    model = trained.model
    ids = trained.tokenizer(["### 질문: 비 오는 날 할 일은?\n\n### 답변:"], return_tensors="pt").to(model.device)
    model.eval()
    with torch.no_grad():
        ref = model(**ids).logits
        with model.disable_adapter():
            base_logits = model(**ids).logits
    assert (ref - base_logits).abs().max() > 1e-3  # the adapter changed something
    model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    assert sum(f.stat().st_size for f in (tmp_path / "adapter").iterdir()) < 2_000_000
    base = zoo.load("polyglot-ko-1.3b", "tiny", dtype=trained.info.dtype, device=trained.info.device).model
    reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter")  # onto a base loaded as training loaded it
    atol = 1e-4 if trained.precision == "fp32" else 5e-2  # a merge in 16-bit rounds (a GPU trains in 16-bit)
    with torch.no_grad():
        got = reloaded(**ids).logits
    torch.testing.assert_close(got, ref, atol=atol, rtol=0)
    merged = reloaded.merge_and_unload()
    assert not any("lora" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        m = merged(**ids).logits
    torch.testing.assert_close(m, ref, atol=atol, rtol=0)
    assert type(merged) is type(zoo.load("polyglot-ko-1.3b", "tiny").model)


def test_sample_answers_before_and_after(trained):
    model, tok = trained.model, trained.tokenizer
    questions = [{"instruction": "다음 문장의 첫 어절을 쓰세요.", "input": "오늘은 비가 많이 내렸다."},
                 "잠이 안 올 때 어떻게 하나요?"]
    model.train()
    after = lora.sample_answers(model, tok, questions, max_new_tokens=12)
    assert model.training  # put back as it was
    with model.disable_adapter():
        before = lora.sample_answers(model, tok, questions, max_new_tokens=12)
    assert len(after) == len(before) == 2 and all(isinstance(a, str) for a in after + before)
    assert after != before
    assert lora.sample_answers(model, tok, questions[:1], max_new_tokens=12) == after[:1]  # greedy
    model.eval()


def test_loss_figure_draws_both_curves():
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    history = pd.DataFrame({"step": [10, 20, 30, 40], "loss": [3.0, 2.0, None, 1.0],
                            "eval_loss": [None, 2.5, 2.2, None]})
    fig = lora.loss_figure(history, "t")
    lines = fig.axes[0].get_lines()
    assert [list(line.get_xdata()) for line in lines] == [[10, 20, 40], [20, 30]]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["train loss (answer tokens)",
                                                                            "held-out answer loss"]


def test_resume_continues_the_step_count(tmp_path):
    cfg = lora.recipe("tiny", max_steps=6, save_steps=3, eval_steps=0, logging_steps=1, progress=False,
                      gradient_checkpointing=True, output_dir=str(tmp_path / "run"))
    first = lora.train(cfg, stop_after=3)
    assert first.steps == 3
    assert (tmp_path / "run" / "checkpoint-3").is_dir()
    second = lora.train(cfg, resume=True)
    assert second.steps == 6
    assert (tmp_path / "run" / "checkpoint-6").is_dir()
    assert second.history["step"].min() == 4  # continued, not restarted
    assert [r["step"] for r in second.trainer.state.log_history if "loss" in r] == [1, 2, 3, 4, 5, 6]


# --------------------------------------------------------------------------- command line


def test_cli_memory_and_recipes(capsys):
    assert lora.main(["memory", "--models", "polyglot-ko-1.3b", "polyglot-ko-5.8b"]) == 0
    out = capsys.readouterr().out
    assert "16 bytes per parameter" in out and "polyglot-ko-5.8b" in out and "T4 16GB" in out
    assert lora.main(["recipes"]) == 0
    assert "polyglot-ko-5.8b-qlora" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_runs_on_two_cpu_processes_under_accelerate(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this test checks the CPU/gloo path")
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or shutil.which("accelerate")
    if accelerate is None:
        pytest.skip("accelerate CLI not installed")
    out = tmp_path / "summary.json"
    # on a machine without CUDA, --multi_gpu starts 2 processes through torchrun and they meet over gloo;
    # `--cpu` alone picks accelerate's single-process launcher (multi-CPU there needs mpirun)
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "helpers.lora", "train",
           "--recipe", "tiny", "--max-steps", "4", "--batch-size", "4", "--eval-steps", "0",
           "--logging-steps", "2", "--output-dir", str(tmp_path / "run"), "--json", str(out)]
    envv = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=envv, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary["world_size"] == 2
    assert summary["steps"] == 4
    assert Path(summary["adapter"], "adapter_config.json").exists()
    assert "tiny stand-in" in summary["base"]


def test_toy_tasks_are_deterministic_and_answer_from_the_input():
    from helpers import lora

    a, b = lora.toy_tasks(seed=0), lora.toy_tasks(seed=0)
    assert a.equals(b) and len(a) == 240
    assert a["input"].is_unique  # each sentence used once, so held-out sentences are unseen
    assert set(a["instruction"]) == set(lora.TOY_TASKS)
    for rec in a.to_dict("records"):
        words = rec["input"].split()
        if "첫 어절" in rec["instruction"]:
            assert rec["output"] == words[0]
        elif "물음표" in rec["instruction"]:
            assert rec["output"] == ("예" if rec["input"].endswith("?") else "아니요")
    assert not lora.toy_tasks(seed=1).equals(a)


def test_split_keeps_same_instruction_rows_with_different_inputs_on_both_sides():
    from helpers import lora

    train, held = lora.split_rows(lora.toy_tasks(), eval_rows=24)
    assert len(held) == 24
    assert set(held["instruction"]) <= set(train["instruction"])  # tasks are shared ...
    assert not set(held["input"]) & set(train["input"])  # ... sentences are not
