"""The repository's address in one place: ``[project.urls] Repository`` in pyproject.toml (and the branch in
``[tool.open-llm-survey]``).

``python -m survey_tools.links`` (``make links``) writes it into every notebook's Colab and Binder badges and
Colab set-up cell, and into the README's badges. ``--check`` changes nothing and lists what differs;
``tests/test_links.py`` runs it, so a fork that edits pyproject.toml and forgets ``make links`` fails the tests.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = r"([\w.-]+\.ipynb)"


def repository(root: Path = ROOT) -> tuple[str, str, str]:
    """``(owner, name, branch)`` from pyproject.toml."""
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    url = meta["project"]["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    if not match:
        raise ValueError(f"{root / 'pyproject.toml'}: [project.urls] Repository must be https://github.com/OWNER/NAME, "
                         f"got {url!r}")
    return match[1], match[2], meta.get("tool", {}).get("open-llm-survey", {}).get("branch", "main")


def rules(owner: str, name: str, branch: str) -> list[tuple[re.Pattern, str]]:
    """Each place the address appears, as (pattern, replacement)."""
    return [
        (re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/notebooks/"
                    + NOTEBOOK),
         rf"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/notebooks/\1"),
        (re.compile(r"https://mybinder\.org/v2/gh/[^/\s)]+/[^/\s)]+/[^?\s)]+\?(?:urlpath=lab/tree/|labpath=)notebooks"
                    r"(?:/|%2F)" + NOTEBOOK),
         rf"https://mybinder.org/v2/gh/{owner}/{name}/{branch}?urlpath=lab/tree/notebooks/\1"),
        (re.compile(r"git clone -q --depth 1 (?:-b [\w.-]+ )?https://github\.com/[\w.-]+/[\w.-]+ /content/[\w.-]+"),
         f"git clone -q --depth 1 -b {branch} https://github.com/{owner}/{name} /content/{name}"),
        (re.compile(r"(%pip install -q -e )/content/[\w.-]+"), rf"\1/content/{name}"),
        (re.compile(r'(sys\.path\.insert\(0, ")/content/[\w.-]+/src"'), rf'\1/content/{name}/src"'),
    ]


def stamp(text: str, owner: str, name: str, branch: str) -> str:
    for pattern, replacement in rules(owner, name, branch):
        text = pattern.sub(replacement, text)
    return text


def files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))]


def run(root: Path = ROOT, check: bool = False) -> list[str]:
    """Stamp (or, with ``check``, only compare) every file; returns ``file: what differs`` lines."""
    import nbformat

    owner, name, branch = repository(root)
    differs = []
    for path in files(root):
        if path.suffix == ".md":
            old = path.read_text(encoding="utf-8")
            new = stamp(old, owner, name, branch)
            if new != old:
                differs.append(f"{path.relative_to(root)}: badges")
                if not check:
                    path.write_text(new, encoding="utf-8")
            continue
        nb = nbformat.read(path, as_version=4)
        changed = [i for i, cell in enumerate(nb.cells) if stamp(cell.source, owner, name, branch) != cell.source]
        if changed:
            differs.append(f"{path.relative_to(root)}: cells {changed}")
            if not check:
                for i in changed:
                    nb.cells[i].source = stamp(nb.cells[i].source, owner, name, branch)
                nbformat.write(nb, path)
    return differs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.links", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file differs")
    args = parser.parse_args(argv)
    differs = run(check=args.check)
    for line in differs:
        print(("differs: " if args.check else "updated: ") + line)
    return 1 if args.check and differs else 0


if __name__ == "__main__":
    sys.exit(main())
