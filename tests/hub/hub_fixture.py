"""Build the fixture that ``tests/hub/hub_server.py`` serves: every registry model and every dataset the notebooks
load in the real profile, under their real ids, made of our own files and marked as fixtures.

* Models (``data/zoo.yaml``): the tiny stand-in of each id, saved under its hub id; ``config.json`` gains a
  ``fixture`` field and a README model card says it is a stand-in. ``llama-2-7b``'s repository is gated.
  ``polyglot-ko-1.3b`` has two commits (an older one and ``main``), so a test can tell a pinned download from
  ``main``.
* Datasets: KoBEST (``skt/kobest_v1``, five configs, our samples in ``data/kobest``) and every ``hub:`` source
  of ``data/instruct/sources.yaml`` (our samples), in the hub's layout: README.md with ``configs:`` and one
  parquet file per split. ``github:`` sources are laid out as raw.githubusercontent.com serves them, at
  the commit ``sources.yaml`` pins.

Commits are 40-hex hashes of the content (the same files give the same commit), so every run of the same
repository state serves the same fixture. ``python tests/hub/hub_fixture.py ROOT`` builds one by hand.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from helpers import env, instruct, kobest, records, zoo
from survey_tools import standins

GATED = {"llama-2-7b"}
TWO_COMMITS = "polyglot-ko-1.3b"
MARK = "fixture of open-llm-survey's tests: a tiny stand-in saved under this id, not the real model"


def _commit(files: dict[str, bytes]) -> str:
    """A 40-hex commit id derived from the content (path and bytes of every file)."""
    h = hashlib.sha1()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return h.hexdigest()


def _write(root: Path, kind: str, repo: str, files: dict[str, bytes]) -> str:
    sha = _commit(files)
    for path, data in files.items():
        out = root / f"{kind}s" / repo / sha / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    return sha


def model_files(model_id: str) -> dict[str, bytes]:
    """The stand-in's files as the hub would serve them for ``model_id``'s hub id, marked as a fixture."""
    s = zoo.spec(model_id)
    folder = standins.build_tiny(model_id)
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "standin.json"}  # the build's record
    config = json.loads(files["config.json"])
    config["fixture"] = f"{MARK} ({s.hub_id})"
    files["config.json"] = json.dumps(config, indent=2).encode()
    files["README.md"] = (f"---\nlicense: {s.license}\ntags: [fixture]\n---\n# {s.hub_id} (test fixture)\n\n"
                          f"A {MARK}. Served on 127.0.0.1 by tests/hub/hub_server.py; the real model card is "
                          f"{s.source}.\n").encode()
    return files


def _parquet(rows: list[dict]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue().to_pybytes()


def dataset_files(configs: dict[str, dict[str, list[dict]]], title: str) -> dict[str, bytes]:
    """A dataset repository: ``{config: {split: rows}}`` as parquet files, listed in the README's ``configs:``."""
    files, card = {}, []
    for config, splits in configs.items():
        entry = {"config_name": config, "data_files": []}
        for split, rows in splits.items():
            folder = config if len(configs) > 1 else "data"
            path = f"{folder}/{split}-00000-of-00001.parquet"
            files[path] = _parquet(rows)
            entry["data_files"].append({"split": split, "path": path})
        card.append(entry)
    files["README.md"] = (f"---\n{yaml.safe_dump({'configs': card, 'tags': ['fixture']}, sort_keys=False)}---\n"
                          f"# {title} (test fixture)\n\nOur own sample rows (data/ of open-llm-survey) in the layout "
                          "of the real dataset; not the real data.\n").encode()
    return files


def build(root: Path) -> dict:
    """Write the fixture into ``root`` (``index.json`` + files); returns the index."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    index: dict = {"models": {}, "datasets": {}, "github": {}}
    for mid, s in zoo.specs().items():
        files = model_files(mid)
        refs = {"main": _write(root, "model", s.hub_id, files)}
        if mid == TWO_COMMITS:  # an older commit that differs only in its card
            older = {**files, "README.md": files["README.md"] + b"\n(older fixture commit)\n"}
            refs["older"] = _write(root, "model", s.hub_id, older)
        index["models"][s.hub_id] = {"refs": refs, "gated": mid in GATED, "id": mid}
    tasks = {t: kobest.load_task(t, kobest.samples_dir()).splits for t in kobest.TASKS}
    index["datasets"][kobest.HUB_ID] = {"refs": {"main": _write(root, "dataset", kobest.HUB_ID,
                                                               dataset_files(tasks, kobest.HUB_ID))}}
    for name, spec in instruct._sources().items():
        sample = instruct.instruct_dir() / spec["sample"]
        if spec.get("hub"):
            rows = [record for _, record in records.read(sample)]
            sha = _write(root, "dataset", spec["hub"], dataset_files({"default": {"train": rows}}, spec["hub"]))
            index["datasets"][spec["hub"]] = {"refs": {"main": sha}, "id": name}
        else:  # a GitHub file, at the commit sources.yaml pins
            out = root / "github" / spec["github"] / spec["revision"] / spec["path"]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(sample.read_bytes())
            index["github"][name] = f"{spec['github']}/{spec['revision']}/{spec['path']}"
    (root / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
    return index


if __name__ == "__main__":
    env.quiet()
    print(json.dumps(build(Path(sys.argv[1])), indent=1))
