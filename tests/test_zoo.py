"""helpers.zoo and survey_tools.standins: registry, tiny stand-ins (deterministic, cached), tokenizers, errors."""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from helpers import env, zoo
from survey_tools import standins
from survey_tools import zoo as zoo_tools

KOREAN = "대한민국의 수도는 서울입니다. 한글은 1443년에 창제되었고, 'LLM'은 대형 언어 모델(large language model)입니다!"


def test_registry_has_the_models_the_notebooks_need():
    ids = set(zoo.specs())
    assert {"polyglot-ko-1.3b", "polyglot-ko-5.8b", "polyglot-ko-12.8b", "koalpaca-polyglot-5.8b",
            "koalpaca-polyglot-12.8b", "dolly-v2-3b", "bloom-560m"} <= ids
    families = {s.family for s in zoo.specs().values()}
    assert {"gpt_neox", "llama", "bloom", "qwen2"} <= families
    assert any(s.id.startswith("pythia") for s in zoo.specs().values())
    assert any(s.kind == "instruct" and s.prompt_format == "chat_template" for s in zoo.specs().values())


def test_registry_licences_exist_in_licence_data():
    import yaml

    path = env.data_path("licenses", "licenses.yaml")
    known = set(yaml.safe_load(path.read_text(encoding="utf-8"))["licenses"])
    assert "apache-2.0" in known
    for s in zoo.specs().values():
        assert s.license in known, f"{s.id}: licence {s.license!r} not in {path}"


def test_unknown_id_lists_known_ids_and_how_to_add():
    with pytest.raises(zoo.UnknownModelError) as err:
        zoo.spec("gpt-5-korean")
    msg = str(err.value)
    assert "gpt-5-korean" in msg and "polyglot-ko-1.3b" in msg and "zoo.yaml" in msg and "CONTRIBUTING" in msg


def test_hub_id_is_accepted_as_an_id():
    assert zoo.spec("EleutherAI/polyglot-ko-1.3b").id == "polyglot-ko-1.3b"


def test_malformed_registry_names_file_line_and_field(tmp_path, monkeypatch):
    """Every problem is reported, each with the file, the line and the field."""
    bad = tmp_path / "zoo.yaml"
    bad.write_text(textwrap.dedent("""\
        models:
          good-one:
            hub_id: a/b
            revision: main
            family: gpt_neox
            params_b: 1
            license: mit
            kind: base
            prompt_format: plain
            source: https://example.org
          broken:
            hub_id: c/d
            revision: main
            family: transformerxl
            params_b: many
            license: mit
            kind: base
            prompt_format: plain
            source: https://example.org
            size: 3
          no-licence:
            hub_id: e/f
            revision: main
            family: llama
            params_b: 7
            kind: base
            prompt_format: plain
            source: https://example.org
        """), encoding="utf-8")
    monkeypatch.setattr(zoo, "_registry_path", lambda: bad)
    with pytest.raises(zoo.RegistryError) as err:
        zoo.specs()
    problems = str(err.value).splitlines()
    assert len(problems) == 4, problems
    assert problems[0].startswith(f"{bad}, line 14, models / broken, field 'family': Input should be 'gpt_neox'")
    assert problems[0].endswith("got 'transformerxl'")
    assert problems[1].startswith(f"{bad}, line 15, models / broken, field 'params_b': ")
    assert problems[1].endswith("got 'many'")
    assert problems[2] == f"{bad}, line 20, models / broken, field 'size': Extra inputs are not permitted, got 3"
    assert problems[3] == f"{bad}, line 21, models / no-licence, field 'license': Field required"
    bad.write_text("models:\n  a: {hub_id: [\n", encoding="utf-8")
    with pytest.raises(zoo.RegistryError, match=f"(?s){bad}: not valid YAML.*line 3"):
        zoo.specs()


def test_tokenizer_round_trips_korean_text():
    for recipe in ("ko", "en"):
        tok = zoo.tiny_tokenizer(recipe)
        ids = tok(KOREAN, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == KOREAN
        assert 4000 <= len(tok) <= 8000


def test_korean_heavy_tokenizer_is_more_efficient_on_korean():
    ko, en = zoo.tiny_tokenizer("ko"), zoo.tiny_tokenizer("en")
    n_ko = len(ko(KOREAN)["input_ids"])
    n_en = len(en(KOREAN)["input_ids"])
    assert n_ko < n_en


def test_recipes_read_the_same_amount_of_text():
    sizes = {r: sum(map(len, standins.recipe_text(r))) for r in standins.TOKENIZER_RECIPES}
    lo, hi = min(sizes.values()), max(sizes.values())
    assert hi / lo < 1.01, sizes


def _weights_digest(path):
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.slow
def test_rebuild_gives_byte_identical_weights(fresh_cache):
    first = standins.build_tiny("pythia-410m")
    digest = _weights_digest(first)
    second = standins.build_tiny("pythia-410m", force=True)
    assert second == first
    assert _weights_digest(second) == digest


def test_cache_is_reused(monkeypatch):
    standins.build_tiny("polyglot-ko-1.3b")  # built once (usually already by `make tiny`)

    def must_not_build(*args, **kwargs):
        raise AssertionError("a cached stand-in was rebuilt")

    monkeypatch.setattr(standins, "_build_tiny", must_not_build)
    model, tok, info = zoo.load("polyglot-ko-1.3b", "tiny")
    assert info.path == str(standins.tiny_path("polyglot-ko-1.3b"))


def test_cache_key_follows_recipe_and_corpus(monkeypatch):
    base = standins.tiny_path("polyglot-ko-1.3b")
    assert standins.tiny_path("polyglot-ko-5.8b") == base  # same recipe -> the same stand-in, built once
    wider = zoo.spec("polyglot-ko-1.3b").model_copy(update={"tiny": {"hidden": 96}})
    assert standins.tiny_recipe(wider)["arch"]["hidden"] == 96
    monkeypatch.setattr(zoo, "spec", lambda mid: wider)
    assert standins.tiny_path("polyglot-ko-1.3b") != base  # another width -> another stand-in
    monkeypatch.undo()
    monkeypatch.setattr(standins, "_corpus_digest", lambda: "another-corpus")
    assert standins.tiny_path("polyglot-ko-1.3b") != base  # another corpus -> another stand-in


@pytest.mark.parametrize("model_id", ["polyglot-ko-1.3b", "kanana-nano-2.1b-base", "bloom-560m",
                                      "qwen2.5-0.5b-instruct"])
def test_tiny_load_has_real_config_class_and_honest_description(model_id):
    import torch

    model, tok, info = zoo.load(model_id, "tiny")
    expected = {"gpt_neox": "GPTNeoXConfig", "llama": "LlamaConfig", "bloom": "BloomConfig",
                "qwen2": "Qwen2Config"}[zoo.spec(model_id).family]
    assert type(model.config).__name__ == expected == info.config_class
    assert info.description.startswith(f"tiny stand-in for {zoo.spec(model_id).hub_id}")
    assert info.is_tiny and "tiny" in info.label
    ids = tok("안녕하세요, 반갑습니다.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    assert torch.isfinite(loss)


def test_stand_in_has_learned_from_the_corpus():
    """Pre-training must have lowered the loss well below a uniform guess."""
    import json
    import math

    path = standins.build_tiny("polyglot-ko-1.3b")
    meta = json.loads((path / "standin.json").read_text())
    uniform = math.log(standins.VOCAB_SIZE)
    assert meta["loss_first"] > 0.9 * uniform
    assert meta["loss_last"] < meta["loss_first"] - 1.5


def test_instruct_stand_in_has_a_chat_template():
    _, tok, _ = zoo.load("qwen2.5-0.5b-instruct", "tiny")
    text = tok.apply_chat_template([{"role": "user", "content": "안녕?"}], tokenize=False,
                                   add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n") and "안녕?" in text


def test_real_profile_without_hub_is_a_clear_error():
    with pytest.raises(env.ProfileError, match="hub"):
        zoo.load("polyglot-ko-1.3b", "real")


def test_auto_without_hub_falls_back_to_tiny_and_says_why(monkeypatch, capsys):
    monkeypatch.setenv(env.PROFILE_ENV, "auto")
    _, _, info = zoo.load("polyglot-ko-1.3b")
    assert info.is_tiny and info.reason == f"auto: hub not reachable ({env.hub_endpoint()})"
    assert info.label == f"polyglot-ko-1.3b (tiny stand-in; {info.reason})"
    assert capsys.readouterr().out == f"polyglot-ko-1.3b: tiny stand-in ({info.reason})\n"
    assert zoo.load("polyglot-ko-1.3b", "tiny").info.label == "polyglot-ko-1.3b (tiny stand-in)"  # asked for: no why


def test_quantization_needs_cuda():
    if env.device() == "cuda":
        pytest.skip("this machine has CUDA")
    for profile in ("tiny", "real"):
        with pytest.raises(env.ProfileError, match="4bit quantization needs CUDA"):
            zoo.load("polyglot-ko-1.3b", profile, quantization="4bit")


def test_stand_in_honours_dtype_and_says_so():
    import torch

    model, _, info = zoo.load("polyglot-ko-1.3b", "tiny", dtype="bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16 and info.dtype == "bfloat16"
    assert info.description.endswith("(bfloat16, cpu); not the real model")
    assert not zoo.load("polyglot-ko-1.3b", "tiny").info.description.endswith("cpu); not the real model")


def test_pin_rewrites_only_unpinned_revisions(tmp_path, monkeypatch):
    """`pin` asks the hub for the commit (faked here: no network in tests) and edits just that line."""
    import shutil
    import types

    import huggingface_hub

    reg = tmp_path / "zoo.yaml"
    shutil.copy(env.data_path("zoo.yaml"), reg)
    monkeypatch.setattr(zoo, "_registry_path", lambda: reg)
    zoo._read_registry.cache_clear()
    asked = []

    class FakeApi:
        def model_info(self, repo_id, revision=None):
            asked.append((repo_id, revision))
            return types.SimpleNamespace(sha="a" * 40)

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    before = reg.read_text().splitlines()
    done = zoo_tools.pin(["bloom-560m"], path=reg)
    after = reg.read_text().splitlines()
    assert done == {"bloom-560m": "a" * 40}
    assert asked == [("bigscience/bloom-560m", "main")]
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(changed) == 1 and changed[0][1].strip() == "revision: " + "a" * 40
    assert zoo.is_pinned(zoo.spec("bloom-560m")) and not zoo.is_pinned(zoo.spec("polyglot-ko-1.3b"))
    zoo._read_registry.cache_clear()


def test_instruct_stand_in_learned_its_prompt_format():
    """KoAlpaca's stand-in gets a second stage on our sample in the KoAlpaca template; a base one does not."""
    import json

    recipe = standins.tiny_recipe(zoo.spec("koalpaca-polyglot-5.8b"))
    assert recipe["sft"]["template"] == "koalpaca_v1_1"
    assert "sft" not in standins.tiny_recipe(zoo.spec("polyglot-ko-5.8b"))
    assert standins.tiny_path("koalpaca-polyglot-5.8b") != standins.tiny_path("polyglot-ko-5.8b")
    _, tok, info = zoo.load("koalpaca-polyglot-5.8b", "tiny")
    assert "instruction-tuned on our koalpaca_v1_1 sample" in info.description
    meta = json.loads((standins.build_tiny("koalpaca-polyglot-5.8b") / "standin.json").read_text())
    assert meta["sft_loss_last"] < meta["sft_loss_first"] - 1.0
    texts = standins.sft_texts(zoo.spec("koalpaca-polyglot-5.8b"), tok)
    assert texts and all(t.startswith("### 질문:") and "### 답변:" in t for t in texts)


def test_maintenance_cli_lists_and_builds(capsys):
    assert zoo_tools.main(["list"]) == 0
    assert "EleutherAI/polyglot-ko-1.3b" in capsys.readouterr().out
    assert zoo_tools.main(["build", "polyglot-ko-1.3b", "polyglot-ko-5.8b"]) == 0  # one recipe: built once
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and standins.tiny_path("polyglot-ko-1.3b").name in printed[0]
