"""helpers.memory: parameter counts from config values, the four methods by hand, orderings, verdicts."""

from __future__ import annotations

import json
import textwrap

import pytest

from helpers import env, memory, zoo

torch = pytest.importorskip("torch")
GiB = 2**30


def _tiny_configs():
    from transformers import BloomConfig, GPTNeoXConfig, LlamaConfig, Qwen2Config

    common = dict(vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    return {
        "gpt_neox": GPTNeoXConfig(**common, intermediate_size=64, tie_word_embeddings=False),
        "llama": LlamaConfig(**common, intermediate_size=48, num_key_value_heads=2, tie_word_embeddings=False),
        "bloom": BloomConfig(vocab_size=300, hidden_size=32, n_layer=2, n_head=4),
        "qwen2": Qwen2Config(**common, intermediate_size=48, num_key_value_heads=2, tie_word_embeddings=True),
    }


# --------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("model_id", list(zoo.specs()))
def test_count_from_config_values_matches_the_published_size(model_id):
    s = zoo.spec(model_id)
    shape = memory.facts().models[model_id]
    assert shape.model_type == s.family
    assert shape.source.startswith(f"https://huggingface.co/{s.hub_id}/blob/")
    assert shape.source.endswith("/config.json")
    count = memory.parameters(model_id)
    assert count.total / 1e9 == pytest.approx(s.params_b, rel=0.02), f"{model_id}: {count.total:,}"
    assert 0.5 < count.quantizable / count.total < 1


def test_exact_counts_of_known_models():
    # the Polyglot-ko 1.3B model card gives 1,331,810,304 parameters; LLaMA-2 7B is 6,738,415,616
    assert memory.parameters("polyglot-ko-1.3b").total == 1_331_810_304
    assert memory.parameters("llama-2-7b").total == 6_738_415_616
    kanana = memory.config("kanana-nano-2.1b-base")
    assert (kanana.num_attention_heads, kanana.head_dim) == (24, 128)  # 3,072-wide attention on 1,792
    assert memory.parameters("kanana-nano-2.1b-base").linear["q_proj"][:2] == (1792, 3072)


@pytest.mark.parametrize("family", ["gpt_neox", "llama", "bloom", "qwen2"])
def test_skeleton_count_equals_a_built_model(family):
    from accelerate.utils import calculate_maximum_sizes
    from transformers import AutoModelForCausalLM

    cfg = _tiny_configs()[family]
    model = AutoModelForCausalLM.from_config(cfg)
    count = memory.count_parameters(cfg)
    assert count.total == model.num_parameters()  # tied embeddings counted once
    assert count.fp32_bytes == calculate_maximum_sizes(model)[0]
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and m is not model.get_output_embeddings())
    assert count.quantizable == linear


@pytest.mark.parametrize("targets", ["attention", "all"])
def test_lora_parameters_match_peft(targets):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from helpers import lora

    for family, cfg in _tiny_configs().items():
        model = get_peft_model(AutoModelForCausalLM.from_config(cfg), lora.lora_config(family, r=4, targets=targets))
        trainable, _ = model.get_nb_trainable_parameters()
        assert trainable == memory.lora_parameters(cfg, targets, r=4), family
    assert memory.lora_parameters("polyglot-ko-1.3b", "attention", r=8) == 24 * 8 * (2048 + 3 * 2048)
    with pytest.raises(ValueError, match="no module"):
        memory.lora_parameters("polyglot-ko-1.3b", ["q_proj"])


# --------------------------------------------------------------------------- the four methods by hand


def test_full_finetuning_is_16_bytes_per_parameter_plus_activations():
    n = memory.parameters("polyglot-ko-1.3b").total
    s, b, h, layers, vocab, heads = 128, 1, 2048, 24, 30080, 16
    est = memory.estimate("polyglot-ko-1.3b", "full", seq_len=s)
    assert est.weights + est.gradients + est.optimizer == pytest.approx(16 * n / GiB)
    # gradient checkpointing keeps 2*s*b*h per layer + one layer's 34*s*b*h + fp32 logits and gradient
    assert est.activations == pytest.approx((layers * 2 * s * b * h + 34 * s * b * h + 8 * b * s * vocab) / GiB)
    no_ckpt = memory.estimate("polyglot-ko-1.3b", "full", seq_len=s, gradient_checkpointing=False)
    assert no_ckpt.activations == pytest.approx((layers * 34 * s * b * h + 8 * b * s * vocab) / GiB)
    scores = memory.estimate("polyglot-ko-1.3b", "full", seq_len=s, gradient_checkpointing=False,
                             flash_attention=False)
    assert scores.activations - no_ckpt.activations == pytest.approx(layers * 5 * heads * s * s * b / GiB)
    assert est.total == pytest.approx(est.weights * 8 + est.activations + memory.OVERHEAD_GIB)
    assert est.trainable == n and est.kv_cache == 0


def test_lora_and_qlora_by_hand():
    count = memory.parameters("polyglot-ko-1.3b")
    t = 24 * 8 * (2048 + 3 * 2048)  # r * (in + out) of query_key_value in 24 layers
    est = memory.estimate("polyglot-ko-1.3b", "lora", r=8, seq_len=256)
    assert est.trainable == t
    assert est.weights == pytest.approx((2 * count.fp32_bytes / 4 + 4 * t) / GiB)
    assert (est.gradients, est.optimizer) == (pytest.approx(4 * t / GiB), pytest.approx(8 * t / GiB))
    q = memory.estimate("polyglot-ko-5.8b", "qlora", r=8, targets="all", seq_len=256)
    per_layer = 4096 * 3 * 4096 + 4096 * 4096 + 2 * 4096 * 16384
    big = memory.parameters("polyglot-ko-5.8b")
    assert big.quantizable == 28 * per_layer
    t5 = 28 * 8 * ((4096 + 3 * 4096) + (4096 + 4096) + (4096 + 16384) * 2)
    assert q.trainable == t5
    assert memory.NF4_BITS == pytest.approx(4.127, abs=1e-3)
    rest = big.fp32_bytes / 4 - 28 * per_layer  # embeddings, head, norms and biases stay 16-bit
    assert q.weights == pytest.approx((28 * per_layer * memory.NF4_BITS / 8 + 2 * rest + 4 * t5) / GiB)
    assert q.optimizer == pytest.approx(2 * t5 / GiB)
    assert q.weights_format == "4-bit NF4"


def test_inference_weights_and_kv_cache_by_hand():
    for model_id, (layers, kv_heads, head_dim) in {"qwen2.5-0.5b-instruct": (24, 2, 64),
                                                   "kanana-nano-2.1b-base": (32, 8, 128),
                                                   "polyglot-ko-1.3b": (24, 16, 128)}.items():
        count = memory.parameters(model_id)
        est = memory.estimate(model_id, "inference", seq_len=1000, batch_size=2)
        assert est.kv_cache == pytest.approx(2 * layers * 2 * 1000 * kv_heads * head_dim * 2 / GiB), model_id
        assert est.weights == pytest.approx(count.fp32_bytes / 2 / GiB)
        fp32 = memory.estimate(model_id, "inference", dtype="float32")
        assert fp32.weights == pytest.approx(count.fp32_bytes / GiB)  # accelerate's size, as it is
        int8 = memory.estimate(model_id, "inference", quantization="8bit")
        assert int8.weights == pytest.approx((count.quantizable + (count.fp32_bytes / 4 - count.quantizable) * 2) / GiB)
        assert (fp32.weights_format, est.weights_format, int8.weights_format) == ("fp32", "fp16", "8-bit")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="method"):
        memory.estimate("polyglot-ko-1.3b", "pretraining")
    with pytest.raises(ValueError, match="quantization"):
        memory.estimate("polyglot-ko-1.3b", quantization="3bit")
    with pytest.raises(KeyError, match="T4 16GB"):
        memory.usable_gib("RTX 9090")


# --------------------------------------------------------------------------- orderings


@pytest.mark.parametrize("model_id", list(zoo.specs()))
def test_full_above_lora_above_qlora_and_fp16_above_8bit_above_4bit(model_id):
    total = {m: memory.estimate(model_id, m).total for m in ("full", "lora", "qlora")}
    assert total["full"] > total["lora"] > total["qlora"]
    infer = [memory.estimate(model_id, quantization=q).total for q in (None, "8bit", "4bit")]
    assert infer[0] > infer[1] > infer[2]


@pytest.mark.parametrize("method", memory.METHODS)
def test_memory_grows_with_the_sequence_length(method):
    for model_id in ("polyglot-ko-1.3b", "qwen2.5-0.5b-instruct"):
        totals = [memory.estimate(model_id, method, seq_len=s).total for s in (128, 256, 512, 1024, 2048)]
        assert totals == sorted(totals) and len(set(totals)) == len(totals), (model_id, totals)
        with_batch = memory.estimate(model_id, method, seq_len=512, batch_size=4).total
        assert with_batch > memory.estimate(model_id, method, seq_len=512).total


# --------------------------------------------------------------------------- verdicts: one number, one place


def test_the_usable_memory_is_one_number():
    share = memory.facts().usable_share
    for gpu, row in memory.facts().gpus.items():
        assert memory.usable_gib(gpu) == row.memory_gib * share
        assert row.source.startswith("https://www.nvidia.com/")
    assert f"{share:.0%}" in memory.assumptions() and "16 bytes per parameter" in memory.assumptions()


def test_fit_table_verdicts_come_from_the_estimate():
    tab = memory.fit_table(["polyglot-ko-1.3b", "polyglot-ko-12.8b", "qwen2.5-0.5b-instruct"],
                           methods=memory.METHODS, quantizations=(None, "8bit", "4bit"), seq_len=512)
    assert len(tab) == 3 * (3 + 3)
    for row in tab.to_dict("records"):
        quant = {"8-bit": "8bit", "4-bit NF4": "4bit"}.get(row["weights"]) if row["method"] == "inference" else None
        est = memory.estimate(row["model"], row["method"], quantization=quant, seq_len=512)
        assert row["GiB"] == round(est.total, 1)
        assert all(row[gpu] == ("✓" if est.total <= memory.usable_gib(gpu) else "✗") for gpu in memory.facts().gpus)


def test_t4_verdicts_agree_between_the_training_and_inference_tables():
    """Notebook 04 shows fit_table, notebook 05 inference_table: the same estimate decides both."""
    ids = ["polyglot-ko-1.3b", "polyglot-ko-5.8b", "polyglot-ko-12.8b", "kanana-nano-2.1b-base"]
    long = memory.fit_table(ids, methods=("inference",), quantizations=(None, "8bit", "4bit"), seq_len=2048)
    wide = memory.inference_table(ids, seq_len=2048)
    for mid in ids:
        fits = long[(long["model"] == mid) & (long["T4 16GB"] == "✓")]["weights"].tolist()
        assert wide.loc[mid, "fits T4 16GB"] == (fits[0] if fits else "no")
        for fmt in ("fp16", "8-bit", "4-bit NF4"):
            assert wide.loc[mid, fmt] == long[(long["model"] == mid) & (long["weights"] == fmt)]["GiB"].item()
    assert wide.loc["polyglot-ko-1.3b", "fits T4 16GB"] == "fp16"
    assert wide.loc["polyglot-ko-12.8b", "fits T4 16GB"] != "fp16"  # 25.8 GB of fp16 weights alone


def test_notebooks_take_their_verdicts_from_helpers_memory():
    for name, call in (("04_lora_finetune", "memory.fit_table("), ("05_korean_inference", "memory.inference_table(")):
        nb = json.loads((env.REPO_ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert call in code, name
        for own_number in ("gpu_gb", "USABLE_SHARE", "0.93", "memory_gb(", "memory_table("):
            assert own_number not in code, (name, own_number)


def test_the_affordability_point():
    tab = memory.fit_table(["polyglot-ko-1.3b", "polyglot-ko-5.8b", "polyglot-ko-12.8b"], seq_len=512)
    cell = tab.set_index(["model", "method"])
    assert cell.loc[("polyglot-ko-1.3b", "full"), "T4 16GB"] == "✗"  # 1.33e9 * 16 B = 20 GiB
    assert cell.loc[("polyglot-ko-1.3b", "lora"), "T4 16GB"] == "✓"
    assert cell.loc[("polyglot-ko-5.8b", "qlora"), "T4 16GB"] == "✓"
    assert cell.loc[("polyglot-ko-12.8b", "qlora"), "T4 16GB"] == "✓"
    assert cell.loc[("polyglot-ko-12.8b", "full"), "A100 80GB"] == "✗"
    assert cell.loc[("polyglot-ko-5.8b", "full"), "A100 80GB"] == "✗"  # 5.9e9 * 16 B = 88 GiB
    assert cell.loc[("polyglot-ko-1.3b", "full"), "A100 40GB"] == "✓"
    assert cell.loc[("polyglot-ko-5.8b", "lora"), "L4/A10 24GB"] == "✓"
    everything = memory.fit_table()
    assert set(everything["model"]) == set(zoo.specs())
    assert (everything.groupby("model")["GiB"].apply(lambda g: g.is_monotonic_decreasing)).all()


def test_breakdown_figure_stacks_the_parts():
    import matplotlib

    from helpers import plots

    matplotlib.use("Agg")
    plots.use_korean_font()
    fig = memory.breakdown_figure("polyglot-ko-5.8b", ("full", "lora", "qlora"), seq_len=512)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["full", "lora", "qlora"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"weights", "gradients", "optimizer",
                                                                   "activations", "overhead"}
    assert len(ax.get_lines()) == len(memory.facts().gpus)
    widths = {round(p.get_width(), 6) for p in ax.patches}
    assert round(memory.estimate("polyglot-ko-5.8b", "full", seq_len=512).optimizer, 6) in widths


# --------------------------------------------------------------------------- facts file and callers


def test_malformed_facts_name_file_line_and_field(tmp_path):
    bad = tmp_path / "memory.yaml"
    bad.write_text(textwrap.dedent("""\
        usable_share: 0.93
        gpus:
          T4 16GB: {memory_gib: 16, bf16: false, source: https://www.nvidia.com/}
        models:
          good:
            model_type: llama
            hidden_size: 64
            num_hidden_layers: 2
            num_attention_heads: 4
            num_key_value_heads: 2
            intermediate_size: 128
            vocab_size: 100
            tie_word_embeddings: false
            max_position_embeddings: 256
            source: https://huggingface.co/a/b/blob/main/config.json
          broken:
            model_type: llama
            hidden_size: 64.5
        """), encoding="utf-8")
    with pytest.raises(memory.MemoryFactsError) as err:
        memory._read_facts(str(bad), 0.0)
    msg = str(err.value)
    assert f"{bad}, line 18, models / broken, field 'hidden_size': Input should be a valid integer" in msg
    assert f"{bad}, line 16, models / broken, field 'num_hidden_layers': Field required" in msg
    fixed = "hidden_size: 0\n" + textwrap.indent(
        "num_hidden_layers: 2\nnum_attention_heads: 4\nnum_key_value_heads: null\nintermediate_size: null\n"
        "vocab_size: 100\ntie_word_embeddings: null\nmax_position_embeddings: null\nsource: x\n", "    ")
    bad.write_text(bad.read_text().replace("0.93", "1.5").replace("hidden_size: 64.5\n", fixed))
    with pytest.raises(memory.MemoryFactsError) as err:
        memory._read_facts(str(bad), 1.0)
    assert str(err.value).splitlines() == [
        f"{bad}, line 1, field 'usable_share': Input should be less than or equal to 1, got 1.5",
        f"{bad}, line 18, models / broken, field 'hidden_size': Input should be greater than 0, got 0"]


def test_a_registry_model_without_shape_is_a_clear_error(monkeypatch):
    facts = memory.facts().model_copy(update={"models": {k: v for k, v in memory.facts().models.items()
                                                         if k != "bloom-560m"}})
    monkeypatch.setattr(memory, "facts", lambda: facts)
    with pytest.raises(memory.MemoryFactsError, match="no entry for 'bloom-560m'.*config.json"):
        memory.estimate("bloom-560m")


def test_zoo_auto_profile_asks_the_estimate(monkeypatch):
    """Under auto with the hub reachable, zoo.load passes memory.estimate's total to the profile choice."""
    asked = []

    def choose(override=None, *, need_gb=None, hub_check=None):
        asked.append(need_gb)
        if need_gb is None:
            return env.ProfileChoice("real", "auto", "auto: hub reachable")
        return env.ProfileChoice("tiny", "auto", f"auto: model needs about {need_gb:.1f} GB")

    monkeypatch.setattr(env, "choose_profile", choose)
    loaded = zoo.load("polyglot-ko-12.8b", "auto")
    assert loaded.info.is_tiny and "needs about" in loaded.info.label
    dtype = "float32" if env.hardware().device == "cpu" else None
    want = memory.estimate("polyglot-ko-12.8b", "inference", dtype=dtype or zoo._real_dtype(env.hardware()))
    assert asked == [None, pytest.approx(want.total)]
