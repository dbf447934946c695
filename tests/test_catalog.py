"""Tests of helpers.catalog and the data in data/catalog/."""

from __future__ import annotations

import shutil

import networkx as nx
import pandas as pd
import pytest

from helpers import catalog
from helpers.catalog import CatalogError

REQUIRED_MODELS = {
    "llama", "alpaca", "gpt4all-lora", "gpt4all-j", "vicuna", "dolly-v2", "oasst-sft-pythia-12b",
    "oasst-sft-llama-30b", "bloom", "pythia", "gpt-j", "gpt-neox-20b", "rwkv-raven", "polyglot-ko",
    "koalpaca-polyglot", "koalpaca-llama", "kovicuna", "llama-2", "llama-3", "llama-3.1", "llama-3.2",
    "llama-3.3", "mistral-7b", "qwen2.5", "gemma-2", "solar-10.7b", "solar-10.7b-instruct", "exaone-3.0",
    "exaone-3.5", "hyperclovax-seed", "kanana", "kogpt",
    # the landscape through 2026: the Korean line and the global models students ask about
    "exaone-deep", "exaone-4.0", "k-exaone", "exaone-4.5", "ax-3.1", "ax-4.0", "ax-k1", "ax-k2", "midm-2.0",
    "kanana-2", "kanana-2-slm", "hyperclovax-seed-think-14b", "hyperclovax-seed-think-32b", "solar-open-100b",
    "trillion-7b-preview", "tri-70b-preview", "varco-vision-2.0", "vaetki", "llama-4", "qwen3", "gemma-3", "gpt-oss",
    "deepseek-v3", "deepseek-r1", "mistral-small-3",
}


@pytest.fixture(scope="module")
def models():
    return catalog.models()


@pytest.fixture
def tmp_catalog(tmp_path):
    d = tmp_path / "catalog"
    shutil.copytree(catalog.catalog_dir(), d)
    return d


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# ------------------------------------------------------------------ the data


def test_every_required_model_present(models):
    assert REQUIRED_MODELS <= set(models.index)


def test_every_row_was_read_and_the_landscape_reaches_2026(models):
    assert len(models) >= 50
    for frame in (models, catalog.datasets()):
        assert (frame["fact_check"] == "read").all(), list(frame.index[frame["fact_check"] != "read"])
    assert models["year"].max() >= 2026


def test_active_parameters_are_per_size_and_below_the_total(models):
    moe = catalog.per_size(models, "active_params_b").dropna()
    assert {"deepseek-v3", "qwen3", "gpt-oss", "k-exaone", "llama-4"} <= set(moe["id"])
    sizes = catalog.per_size(models, "sizes_b").rename(columns={"sizes_b": "total"})
    both = moe.merge(sizes, on=["id", "size_b"])
    assert len(both) == len(moe) and (both["active_params_b"] < both["total"]).all()


def test_types(models):
    assert pd.api.types.is_datetime64_any_dtype(models["release_date"])
    assert models["release_month"].map(lambda p: isinstance(p, pd.Period)).all()
    assert models["sizes_b"].map(lambda s: len(s) > 0 and all(isinstance(x, float) and x > 0 for x in s)).all()
    assert (models["max_size_b"] >= models["min_size_b"]).all()


def test_dates_parse_and_agree_with_month(models):
    dated = models.dropna(subset=["release_date"])
    assert len(dated) >= 20
    assert (dated["release_date"].dt.strftime("%Y-%m") == dated["release_month"].astype(str)).all()


def test_every_row_has_a_source():
    for frame in (catalog.models(), catalog.datasets(), catalog.apis(), catalog.genealogy()):
        assert frame["source"].str.startswith("http").all()
    for name in catalog.survey_tables():
        assert catalog.survey(name)["source"].str.startswith("http").all(), name


def test_commercial_and_korean_have_reasons(models):
    assert models["commercial_use"].map(lambda v: set(catalog.split(v)) <= set(catalog.COMMERCIAL)).all()
    assert catalog.split(models.loc["qwen2.5", "commercial_use"])[2] == "no"  # the 3B size: research licence
    assert models["korean_support"].isin(catalog.KOREAN).all()
    assert (models["commercial_use_why"].str.len() > 10).all()
    assert (models["korean_support_why"].str.len() > 10).all()


def test_genealogy_nodes_exist_and_no_cycles():
    g = catalog.genealogy()
    cat = catalog.load()
    nodes = set(cat.models.index) | set(cat.datasets.index) | set(cat.apis.index)
    assert set(g.child) <= nodes and set(g.parent) <= nodes
    assert g.relation.isin(catalog.RELATIONS).all()
    graph = catalog.genealogy_graph()
    assert nx.is_directed_acyclic_graph(graph)
    assert graph.number_of_edges() == len(g) and set(graph) == nodes


def test_base_models_are_genealogy_edges(models):
    g = catalog.genealogy()
    edges = set(zip(g.child, g.parent))
    for mid, row in models.iterrows():
        for item in catalog.split(row["base_model"]):
            parent, _, size = item.partition("@")  # id@size: the base's size this size was built from
            assert (mid, parent) in edges, (mid, parent)
            assert not size or float(size) in models.loc[parent, "sizes_b"], (mid, item)


# ------------------------------------------------------------------ the survey's numbers (where right)


def test_llama_survey_numbers(models):
    assert models.loc["llama", "sizes_b"] == [7, 13, 33, 65]
    assert models.loc["llama", "release_date"] == pd.Timestamp("2023-02-24")


def test_polyglot_ko_survey_numbers(models):
    tokens = catalog.per_size(models.loc[["polyglot-ko"]], "train_tokens_b").set_index("size_b")
    steps = catalog.per_size(models.loc[["polyglot-ko"]], "train_steps").set_index("size_b")
    assert tokens.loc[12.8, "train_tokens_b"] == 167
    assert steps.loc[12.8, "train_steps"] == 301_000
    assert models.loc["polyglot-ko", "vocab_size"] == 30_003


def test_bloom_vocab(models):
    assert models.loc["bloom", "vocab_size"] == 250_680
    facts = catalog.survey("bloom_facts").set_index("fact")
    assert int(facts.loc["vocab_size", "value"]) == 250_680


def test_survey_tables_content():
    mix = catalog.survey("llama_pretrain_mix")
    assert mix["sampling_prop_pct"].sum() == pytest.approx(100.0)
    tqa = catalog.survey("truthfulqa")
    assert ((tqa["truthful_informative"] <= tqa["truthful"]) & tqa["truthful"].between(0, 1)).all()
    kobest = catalog.survey("polyglot_ko_kobest")
    assert set(kobest["task"]) == {"copa", "hellaswag", "boolq", "sentineg", "wic"}
    assert kobest["macro_f1"].between(0, 1).all()
    # every task: 7 models x 4 shot counts, no duplicates
    assert (kobest.groupby("task").size() == 28).all()
    assert not kobest.duplicated(["task", "model", "n_shot"]).any()
    cell = kobest.set_index(["task", "model", "n_shot"])["macro_f1"]
    assert cell[("sentineg", "EleutherAI/polyglot-ko-12.8b", 50)] == pytest.approx(0.9723)
    assert cell[("boolq", "EleutherAI/polyglot-ko-12.8b", 0)] == pytest.approx(0.4818)


def test_licence_follow_ups_in_catalog(models):
    """Rows the licence notebook relies on: Vicuna v1.5 on Llama 2, SOLAR Instruct's fine-tuning data."""
    v15 = models.loc["vicuna-v1.5"]
    assert v15["base_model"] == "llama-2" and v15["weights_license"] == "llama2"
    assert catalog.split(v15["training_data"]) == ["sharegpt"]
    ds = catalog.datasets()
    solar_data = catalog.split(models.loc["solar-10.7b-instruct", "training_data"])
    assert {"alpaca-gpt4", "openorca", "orca-dpo-pairs", "ultrafeedback-binarized-cleaned"} <= set(solar_data)
    assert ds.loc["alpaca-gpt4", "license"] == "cc-by-nc-4.0" and ds.loc["alpaca-gpt4", "generator"] == "openai-gpt-4"
    assert models.loc["kanana", "weights_license"] == "cc-by-nc-4.0"
    assert models.loc["kanana-1.5", "weights_license"] == "apache-2.0"


LECTURE_CORRECTIONS = {"llama-tokens", "llama-licence", "alpaca-data-api", "gpt4all-cost", "gpt4all-days",
                       "gpt4all-pairs", "gpt4all-base", "dolly-org", "oasst-pythia-korean", "oasst-llama-korean",
                       "rwkv-raven-commercial"}


def test_claim_checks_are_computed():
    claims = catalog.check_claims().set_index("claim_id")
    assert claims.loc["polyglot-steps", "ok"] is True or claims.loc["polyglot-steps", "ok"] == True  # noqa: E712
    assert claims.loc["vicuna-92", "verdict"] == "출처와 일치, 맥락 필요"
    assert claims.loc["vicuna-judge", "catalog_value"] == "openai-gpt-4"
    assert claims.loc["dolly-weights-licence", "catalog_value"] == "mit"
    # the lecture's mistakes are the claims that differ from their sources, and only those
    assert set(claims.index[claims["ok"].eq(False)]) == LECTURE_CORRECTIONS
    assert (claims.loc[list(LECTURE_CORRECTIONS), "verdict"] == "출처와 다름").all()
    assert claims.loc["gpt4all-cost", "catalog_value"] == "800" and claims.loc["llama-tokens", "catalog_value"] == (
        "1000;1000;1400;1400")


def test_claims_text_shows_the_named_claims_in_order_with_verdict_and_source():
    claims = catalog.check_claims().set_index("claim_id")
    text = catalog.claims_text(["alpaca-data-api", "llama-date"])
    first, second = text.split("\n\n")
    assert first.startswith("alpaca-data-api | ") and second.startswith("llama-date | ")
    assert claims.loc["alpaca-data-api", "verdict"] in first and claims.loc["alpaca-data-api", "source"] in first
    by_topic = catalog.claims_text(topic="LLaMA")
    assert by_topic.count(" | ") == (claims["topic"] == "LLaMA").sum()
    with pytest.raises(KeyError):
        catalog.claims_text(topic="no such topic")


def test_open_assistant_claims_say_both_data_and_models():
    claims = catalog.check_claims().set_index("claim_id")
    assert claims.loc["oasst1-korean", "ok"] and "1,553" in claims.loc["oasst1-korean", "caveat"]
    for model_claim in ("oasst-pythia-korean", "oasst-llama-korean"):  # survey 'ko' vs source 'en': differs
        assert claims.loc[model_claim, "survey_value"] == "ko" and claims.loc[model_claim, "ok"] == False  # noqa: E712


def test_claim_caveats_are_korean():
    claims = catalog.check_claims()
    hangul = claims["caveat"].str.contains("[가-힣]") | (claims["caveat"] == "")
    assert hangul.all(), list(claims.loc[~hangul, "claim_id"])


def test_claim_check_detects_a_wrong_survey_value(tmp_path):
    src = catalog.catalog_dir() / "survey_claims.csv"
    bad = tmp_path / "claims.csv"
    bad.write_text(src.read_text(encoding="utf-8").replace(
        ",30003,models:polyglot-ko:vocab_size,", ",30080,models:polyglot-ko:vocab_size,"),
        encoding="utf-8")
    claims = catalog.check_claims(bad).set_index("claim_id")
    assert claims.loc["polyglot-vocab", "verdict"] == "출처와 다름"


# ------------------------------------------------------------------ the schema rejects bad rows


def test_bad_date_names_file_line_field(tmp_catalog):
    _edit(tmp_catalog / "models.csv", "2023-02-24,2023-02", "2023-02-31,2023-02")
    with pytest.raises(CatalogError) as e:
        catalog.load(tmp_catalog)
    assert e.value.file == "models.csv" and e.value.line == 2 and e.value.field == "release_date"


def test_release_month_must_agree_with_the_day(tmp_catalog):
    _edit(tmp_catalog / "models.csv", "2023-02-24,2023-02", "2023-02-24,2023-03")
    with pytest.raises(CatalogError, match="disagrees with release_date 2023-02-24") as e:
        catalog.load(tmp_catalog)
    assert (e.value.file, e.value.line, e.value.field) == ("models.csv", 2, "release_month")


def test_negative_size_rejected(tmp_catalog):
    _edit(tmp_catalog / "models.csv", ",7;13;33;65,", ",7;-13;33;65,")
    with pytest.raises(CatalogError, match=r"models.csv, line 2, field 'sizes_b'"):
        catalog.load(tmp_catalog)


def test_unknown_licence_rejected(tmp_catalog):
    _edit(tmp_catalog / "models.csv", "llama-1-research,gpl-3.0", "llama-research,gpl-3.0")
    with pytest.raises(CatalogError, match="weights_license"):
        catalog.load(tmp_catalog)


def test_empty_licence_rejected_as_an_empty_cell(tmp_catalog):
    _edit(tmp_catalog / "models.csv", "llama-1-research,gpl-3.0", ",gpl-3.0")
    with pytest.raises(CatalogError, match="weights_license.*at least 1 character") as e:
        catalog.load(tmp_catalog)
    assert (e.value.file, e.value.line) == ("models.csv", 2)


def test_missing_source_rejected(tmp_catalog):
    _edit(tmp_catalog / "datasets.csv", "https://summarizepaper.com/en/tree/2101.00027v1;"
                                        "https://www.scholarfeed.org/paper/2101.00027v1", "")
    with pytest.raises(CatalogError, match=r"datasets.csv, line \d+, field 'source'"):
        catalog.load(tmp_catalog)


def test_unknown_genealogy_node_rejected(tmp_catalog):
    _edit(tmp_catalog / "genealogy.csv", "alpaca,llama,fine-tune", "alpaca,llama-9,fine-tune")
    with pytest.raises(CatalogError, match="genealogy.csv.*'parent'.*llama-9"):
        catalog.load(tmp_catalog)


def test_cycle_rejected_naming_the_loop(tmp_catalog):
    with open(tmp_catalog / "genealogy.csv", "a", encoding="utf-8") as f:
        f.write("llama,alpaca,fine-tune,https://example.org,made-up cycle for the test\n")
    with pytest.raises(CatalogError, match="genealogy.csv, line .*cycle in genealogy: .*alpaca.*llama") as e:
        catalog.load(tmp_catalog)
    loop = e.value.problem.split(": ")[1].split(" -> ")
    assert loop[0] == loop[-1] and set(loop) == {"alpaca", "llama"}


@pytest.mark.parametrize(("row", "problem"), [("llama,alpaca,fine-tune,https://example.org", "fewer"),
                                              ("llama,alpaca,fine-tune,https://example.org,note,extra", "more")])
def test_a_row_with_too_few_or_too_many_cells_is_rejected(tmp_catalog, row, problem):
    lines = (tmp_catalog / "genealogy.csv").read_text(encoding="utf-8").splitlines()
    (tmp_catalog / "genealogy.csv").write_text("\n".join([*lines, row]) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=f"{problem} cells than header columns") as e:
        catalog.load(tmp_catalog)
    assert (e.value.file, e.value.line) == ("genealogy.csv", len(lines) + 1)


def test_a_byte_order_mark_is_no_part_of_the_first_column(tmp_catalog):
    for file in ("models.csv", "genealogy.csv"):
        text = (tmp_catalog / file).read_text(encoding="utf-8")
        (tmp_catalog / file).write_text(text, encoding="utf-8-sig")
    assert catalog.load(tmp_catalog).models.equals(catalog.models())


@pytest.mark.parametrize(("file", "old", "new", "line", "field"), [
    ("models.csv", "llama,LLaMA,Meta AI", "llama,LLaMA,", 2, "organization"),
    ("models.csv", ",no,weights released", ",nope,weights released", 2, "commercial_use"),
    ("models.csv", ",2048,32000,", ",2048,32000.5,", 2, "vocab_size"),
    ("models.csv", "\nbloom,BLOOM", "\nllama,BLOOM", 3, "id"),
    ("models.csv", ",tokenizer,", ",tokeniser,", 1, "tokenizer"),  # every column of the schema must be there
    ("datasets.csv", ",scraped,", ",scrapped,", None, "how_made"),
    ("datasets.csv", ",openai-terms,openai-text-davinci-003,", ",openai-terms,,", None, "generator"),
    ("genealogy.csv", "alpaca,llama,fine-tune", "alpaca,llama,finetune", None, "relation"),
    ("genealogy.csv", "alpaca,llama,fine-tune", "alpaca,alpaca,fine-tune", None, "parent"),
    ("models.csv", ",yes;yes;no;yes;yes;yes;conditional,", ",yes;no,", None, "commercial_use"),  # 1 or per size
    ("models.csv", ",yes;yes;no;yes;yes;yes;conditional,", ",yes;yes;no;yes;yes;yes;perhaps,", None, "commercial_use"),
    ("models.csv", ",qwen2.5@72;qwen2.5@7,", ",qwen9@72;qwen2.5@7,", None, "base_model"),
    ("models.csv", ",;;;;;;3;22,", ",;;;;;;3;-22,", None, "active_params_b"),
])
def test_schema_errors_name_file_line_and_field(tmp_catalog, file, old, new, line, field):
    _edit(tmp_catalog / file, old, new)
    with pytest.raises(CatalogError) as e:
        catalog.load(tmp_catalog)
    assert e.value.file == file and e.value.field == field
    assert e.value.line == (line or _line_of(tmp_catalog / file, new))


def _line_of(path, text):
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_duplicate_edge_names_its_first_line(tmp_catalog):
    with open(tmp_catalog / "genealogy.csv", "a", encoding="utf-8") as f:
        f.write("alpaca,llama,fine-tune,https://example.org,the same edge again\n")
    with pytest.raises(CatalogError, match=r"duplicate .*alpaca/llama/fine-tune.* \(first on line \d+\)") as e:
        catalog.load(tmp_catalog)
    assert e.value.line == len((tmp_catalog / "genealogy.csv").read_text(encoding="utf-8").splitlines())


def test_per_size_list_length_checked(tmp_catalog):
    _edit(tmp_catalog / "models.csv", "1000;1000;1400;1400", "1000;1400")
    with pytest.raises(CatalogError, match="train_tokens_b.*one per size"):
        catalog.load(tmp_catalog)


# ------------------------------------------------------------------ the filter


def test_filter_models(models):
    all_rows = catalog.filter_models(models)
    assert len(all_rows) == len(models)
    ko = catalog.filter_models(models, korean=["yes"], commercial=["yes"])
    assert {"polyglot-ko", "kanana-1.5", "midm-2.0", "qwen2.5"} <= set(ko.index)  # qwen2.5: some of its sizes
    assert "exaone-3.5" not in ko.index and ko["commercial_use"].str.contains("yes").all()
    small = catalog.filter_models(models, min_size_b=0, max_size_b=1)
    assert "pythia" in small.index and "llama" not in small.index
    apache = catalog.filter_models(models, licenses=["qwen-research"])
    assert list(apache.index) == ["qwen2.5"]
    early = catalog.filter_models(models, years=(2021, 2021))
    assert set(early.index) == {"gpt-j", "kogpt"}


def test_filter_widget_refilters_when_a_control_changes(monkeypatch, models):
    import itables

    shown = []
    monkeypatch.setattr(itables, "show", lambda table, **_: shown.append(table))
    box = catalog.filter_widget(models)
    korean = box.children[0].children[2]
    assert korean.description == "한국어" and len(shown[-1]) == len(models)
    korean.value = ("yes",)
    assert list(shown[-1].index) == list(catalog.filter_models(models, korean=["yes"]).index) != list(models.index)


def test_lineage_order_puts_every_model_once_below_a_parent(models):
    graph = catalog.genealogy_graph(("model",))
    order = catalog.lineage_order(graph, catalog.released(models))
    assert sorted(order) == sorted(models.index)
    for node in order:
        parents = set(graph.predecessors(node))
        assert not parents or min(order.index(p) for p in parents) < order.index(node), node
    assert order.index("kovicuna") == order.index("vicuna") + 1  # a family stays together


def test_trained_on_api_data_follows_data_edges_through_translations():
    users = catalog.trained_on_api_data()
    assert {"alpaca", "vicuna", "koalpaca-llama", "kovicuna"} <= set(users)  # kovicuna: translated ShareGPT
    assert "dolly-v2" not in users and "llama" not in users
    # computed by hand from the edges: API-generated data, data translated from it, models trained on either
    g = catalog.genealogy()
    generated = set(g[g.relation == "data-generated-by-api"].child)
    translated = set(g[(g.relation == "data-translated-from") & g.parent.isin(generated)].child)
    trained = g[(g.relation == "trained-on-data") & g.parent.isin(generated | translated)]
    assert users == sorted(set(trained.child))


# ------------------------------------------------------------------ the figures follow the data


def test_landscape_figure_has_a_row_per_model_a_legend_and_no_free_labels(models):
    fig = catalog.landscape_figure(models)
    assert fig.layout.template.layout.font.family.startswith("NanumGothic")  # Korean-safe layout
    dots = [t for t in fig.data if t.xaxis == "x" and t.mode == "markers"]
    rows = [y for t in dots for y in t.y]
    assert sorted(rows) == list(range(len(models)))  # one row each: labels are y ticks and cannot overlap
    assert len(fig.layout.yaxis.ticktext) == len(models) and not any(t.mode and "text" in t.mode for t in fig.data)
    assert {t.name for t in dots} == {"한국어 지원", "한국어 제한적", "한국어 미지원"}  # the colour legend
    assert all(t.showlegend is not False for t in dots)
    sizes = [t for t in fig.data if t.xaxis == "x2"]
    assert sum(len(t.x) for t in sizes) == sum(len(s) for s in models["sizes_b"])
    model_edges = catalog.genealogy_graph(("model",)).number_of_edges()
    assert sum(len(t.x) for t in fig.data if t.mode == "lines") == 3 * model_edges
    first, last = (pd.Timestamp(x) for x in fig.layout.xaxis.range)  # every dot inside the axis, with room
    when = models["release_month"].map(lambda p: p.to_timestamp())
    assert first < when.min() and last > when.max() + pd.DateOffset(months=1)


def test_mixture_figure():
    assert sum(catalog.mixture_figure().data[0].y) == pytest.approx(100.0)
