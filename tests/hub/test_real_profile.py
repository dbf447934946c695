"""The real profile's code paths against the fixture hub: pinned and unpinned revisions, a gated model, an unknown
revision, a server that dies mid-download, datasets at their revisions, and ``auto`` deciding per model."""

from __future__ import annotations

import shutil
import threading
import warnings
from pathlib import Path

import pytest

from helpers import env, instruct, kobest, zoo

POLYGLOT = "EleutherAI/polyglot-ko-1.3b"


@pytest.fixture
def registry(hub, tmp_path, monkeypatch):
    """A copy of data/zoo.yaml for this test; ``registry(id, revision)`` sets one entry's revision."""
    path = tmp_path / "zoo.yaml"
    shutil.copy(env.data_path("zoo.yaml"), path)
    monkeypatch.setattr(zoo, "_registry_path", lambda: path)
    zoo._read_registry.cache_clear()

    def set_revision(model_id: str, revision: str):
        lines, inside = path.read_text(encoding="utf-8").splitlines(keepends=True), False
        for i, line in enumerate(lines):
            inside = line.strip() == f"{model_id}:" or (inside and line.startswith("    "))
            if inside and line.strip().startswith("revision:"):
                lines[i] = f"    revision: {revision}\n"
        path.write_text("".join(lines), encoding="utf-8")
        zoo._read_registry.cache_clear()
        assert zoo.spec(model_id).revision == revision

    yield set_revision
    zoo._read_registry.cache_clear()


def test_pinned_revision_is_the_one_downloaded_and_main_warns(hub, registry):
    import huggingface_hub.constants

    older, main = hub.commit(POLYGLOT, ref="older"), hub.commit(POLYGLOT)
    registry("polyglot-ko-1.3b", older)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a pinned load warns about nothing
        info = zoo.load("polyglot-ko-1.3b", "real").info
    assert info.profile == "real" and info.commit == older and f"{POLYGLOT}@{older[:12]}" in info.description
    snapshot = Path(huggingface_hub.constants.HF_HUB_CACHE) / f"models--{POLYGLOT.replace('/', '--')}" / "snapshots"
    assert (snapshot / older / "model.safetensors").is_file()
    assert any(f" /{POLYGLOT}/resolve/{older}/model.safetensors" in r for r in hub.requests())  # asked at that commit

    registry("polyglot-ko-1.3b", "main")
    with pytest.warns(UserWarning, match=rf"revision 'main' is not pinned; it is commit {main} today.*"
                                         r"python -m survey_tools.zoo pin polyglot-ko-1.3b"):
        info = zoo.load("polyglot-ko-1.3b", "real").info
    assert info.commit == main and info.revision == "main" and f"{POLYGLOT}@{main[:12]}" in info.description


def test_gated_model_stops_with_its_licence_page_and_how_to_log_in(hub, monkeypatch):
    from hub_server import TOKEN

    s = zoo.spec("llama-2-7b")
    for token in (None, "hf_not_granted"):  # 401 without a token, 403 with one that was not granted access
        if token:
            monkeypatch.setenv("HF_TOKEN", token)
        with pytest.warns(UserWarning, match="not pinned"), pytest.raises(env.HubError) as err:
            zoo.load("llama-2-7b", "real")
        message = str(err.value)
        assert s.hub_id in message and "gated" in message and s.source in message
        assert "HF_TOKEN" in message and "hf auth login" in message
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # the fixture's granted token: the same call now loads
    with pytest.warns(UserWarning, match="not pinned"):
        assert zoo.load("llama-2-7b", "real").info.commit == hub.commit(s.hub_id)


def test_unknown_revision_names_the_model_and_the_revision(hub, registry):
    registry("bloom-560m", "deadbeef" * 5)
    with pytest.raises(env.HubError, match=r"bigscience/bloom-560m \(revision '(deadbeef){5}'\).*no such revision"):
        zoo.load("bloom-560m", "real")


def test_server_dying_mid_download_stops_clearly_and_the_next_run_fetches_only_what_is_missing(hub):
    repo = "EleutherAI/pythia-410m"
    base = f"/{repo}/resolve/{hub.commit(repo)}/"
    hub.start(die_after=300_000, die_on=f"{repo}/{hub.commit(repo)}/model.safetensors")
    try:  # 300 kB of the weights, then the server process exits and stays down
        with pytest.warns(UserWarning, match="not pinned"), pytest.raises(env.HubError) as err:
            zoo.load("pythia-410m", "real")
    finally:
        hub.start()
    assert repo in str(err.value) and "broke off" in str(err.value) and "Run it again" in str(err.value)
    before = len(hub.requests())
    with pytest.warns(UserWarning, match="not pinned"):
        info = zoo.load("pythia-410m", "real").info
    assert info.commit == hub.commit(repo) and info.params > 0
    fetched = [r.split()[1] for r in hub.requests()[before:] if r.startswith(f"GET {base}")]
    assert f"{base}model.safetensors" in fetched
    assert f"{base}config.json" not in fetched and f"{base}tokenizer.json" not in fetched  # kept from the first run


def test_a_short_outage_is_bridged_by_resuming_the_download(hub, monkeypatch):
    """huggingface_hub retries a broken download a few times, a second apart, asking for the missing bytes only.
    It keeps what it received in chunks of 10 MB; the stand-in's weights are 2.5 MB, so the chunk is made 64 kB
    here, as a file of gigabytes has many chunks."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    repo = "databricks/dolly-v2-3b"
    weights = f"{repo}/{hub.commit(repo)}/model.safetensors"
    hub.start(die_after=300_000, die_on=weights)
    died, finished = hub.proc, threading.Event()

    def restart():  # back up at once, where the server died by itself (not killed below)
        died.wait()
        if not finished.is_set():
            hub.start()

    watcher = threading.Thread(target=restart, daemon=True)
    watcher.start()
    try:
        with pytest.warns(UserWarning, match="not pinned"):
            info = zoo.load("dolly-v2-3b", "real").info
    finally:  # a load that failed before the weights were asked for leaves the dying server running
        finished.set()
        if died.poll() is None:
            died.kill()
        watcher.join()
        if hub.proc is died:
            hub.start()
    assert info.commit == hub.commit(repo)
    resumed = [r for r in hub.requests() if r.startswith(f"GET /{repo}/resolve/") and "bytes=" in r]
    assert resumed and resumed[0].endswith(f"/model.safetensors bytes={300_000 // 65536 * 65536}-"), resumed


@pytest.mark.parametrize("name", list(instruct._sources()))
def test_instruction_datasets_load_at_their_revisions_with_the_notebooks_columns(hub, name):
    spec, sample = instruct._sources()[name], instruct.load(name, profile="tiny")
    if spec.get("hub"):
        commit = hub.commit(spec["hub"], "datasets")
        with pytest.warns(UserWarning, match=rf"{spec['hub']}: revision 'main' is not pinned; it is commit {commit}"):
            df = instruct.load(name, profile="real")
        assert df.attrs["source"] == f"hub:{spec['hub']}@{commit}"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # pinned: no warning
            assert instruct.load(name, profile="real", revision=commit).attrs["source"] == df.attrs["source"]
    else:  # GitHub, at the commit sources.yaml pins
        df = instruct.load(name, profile="real")
        assert df.attrs["source"].endswith(f"/{spec['github']}/{spec['revision']}/{spec['path']}")
    assert list(df.columns) == list(sample.columns) and len(df) == len(sample)
    assert {"instruction", "input", "output"} <= set(df.columns)


def test_kobest_loads_every_task_from_the_hub_at_its_commit(hub):
    commit = hub.commit(kobest.HUB_ID, "datasets")
    for task in kobest.TASKS:
        with pytest.warns(UserWarning, match=f"not pinned; it is commit {commit}"):
            data = kobest.load_task(task, "hub")
        ours = kobest.load_task(task, kobest.samples_dir())
        assert data.source == f"{kobest.HUB_ID}@{commit}" and data.counts() == ours.counts()
        assert all(list(row) == list(kobest.SCHEMA[task]) for rows in data.splits.values() for row in rows)


def test_auto_loads_what_fits_real_and_the_rest_as_stand_ins(hub, monkeypatch, capsys):
    """With the hub reachable and 8 GB free: polyglot-ko-1.3b (about 5.5 GB in fp32) loads real, 5.8b (about
    23 GB) as its stand-in, with the reason printed and in its label."""
    monkeypatch.setattr(env, "hardware", lambda: env.Hardware("cpu", "test", 16.0, 8.0, True, 2))
    with pytest.warns(UserWarning, match="not pinned"):
        small = zoo.load("polyglot-ko-1.3b", "auto").info
    big = zoo.load("polyglot-ko-5.8b", "auto").info
    assert small.profile == "real" and small.commit == hub.commit(POLYGLOT) and small.label == "polyglot-ko-1.3b"
    assert big.profile == "tiny" and big.description.startswith("tiny stand-in for EleutherAI/polyglot-ko-5.8b")
    assert big.label.startswith("polyglot-ko-5.8b (tiny stand-in; auto: needs about ")
    assert big.label.endswith("GB, cpu has 8.0 GB free)")
    assert "polyglot-ko-5.8b: tiny stand-in (auto: needs about" in capsys.readouterr().out
    # on a GPU the estimate is the 16-bit one, against the GPU's free memory
    monkeypatch.setattr(env, "hardware", lambda: env.Hardware("cuda", "test", 16.0, 10.0, True, 2))
    assert zoo.choose("polyglot-ko-1.3b", "auto").profile == "real"
    assert "cuda has 10.0 GB free" in zoo.choose("polyglot-ko-5.8b", "auto").reason
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline: every model is a stand-in, without asking the hub
    assert zoo.choose("polyglot-ko-1.3b", "auto").reason == f"auto: hub not reachable ({hub.url})"
