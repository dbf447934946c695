"""Maintenance of the model registry (``data/zoo.yaml``) and the tiny stand-ins' cache.

    python -m survey_tools.zoo build [IDS...] [--force]   build stand-ins into the cache (``make tiny``)
    python -m survey_tools.zoo list                       print the registry
    python -m survey_tools.zoo pin [IDS...]               pin ``revision: main`` to the hub's commit (online)

Notebooks never need this: ``helpers.zoo.load`` builds a missing stand-in on first use (``survey_tools.standins``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from helpers import zoo
from survey_tools import standins


def pin(ids: list[str] | None = None, path: Path | None = None) -> dict[str, str]:
    """Resolve unpinned revisions to the hub's current commit and write them into the registry.

    Needs the hub. Rewrites only the ``revision:`` line of each entry; returns ``{id: sha}``.
    """
    from huggingface_hub import HfApi

    path = path or zoo._registry_path()
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    api = HfApi()
    done: dict[str, str] = {}
    current = None
    for i, line in enumerate(lines):
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            current = line.strip()[:-1]
        elif current and line.strip().startswith("revision:") and (ids is None or current in ids):
            s = zoo.spec(current)
            if not zoo.is_pinned(s):
                sha = api.model_info(s.hub_id, revision=s.revision).sha
                lines[i] = line[: line.index("revision:")] + f"revision: {sha}\n"
                done[current] = sha
    path.write_text("".join(lines), encoding="utf-8")
    zoo._read_registry.cache_clear()
    return done


def build(ids: list[str], force: bool = False) -> None:
    """Build each distinct stand-in of ``ids`` once, printing its folder and seconds."""
    seen: set[Path] = set()
    for mid in ids:
        path = standins.tiny_path(mid)
        if path in seen:
            continue
        seen.add(path)
        t0 = time.perf_counter()
        standins.build_tiny(mid, force=force)
        print(f"{mid:<28} {path.name:<40} {time.perf_counter() - t0:6.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.zoo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build tiny stand-ins into the cache")
    b.add_argument("ids", nargs="*", help="registry ids (default: all, each distinct recipe once)")
    b.add_argument("--force", action="store_true", help="rebuild even if cached")
    sub.add_parser("list", help="print the registry")
    p = sub.add_parser("pin", help="replace unpinned revisions by the hub's current commit (needs the hub)")
    p.add_argument("ids", nargs="*")
    args = parser.parse_args(argv)
    if args.cmd == "pin":
        for mid, sha in pin(args.ids or None).items():
            print(f"{mid:<28} {sha}")
    elif args.cmd == "list":
        print(zoo.registry()[["hub_id", "family", "params_b", "license", "kind"]].to_string())
    else:
        build(args.ids or list(zoo.specs()), force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
