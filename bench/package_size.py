"""Benchmark: the size of the package students import (src/helpers), per module, against the <= 5,000-line target.

Lines are physical lines (`wc -l`); the code column leaves out blank lines, comments and docstrings.
Run with `make bench` or `.venv/bin/python bench/package_size.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

TARGET = 5000
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "helpers"


def count(path: Path) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    skip = {i for i, line in enumerate(lines, 1) if not line.strip() or line.strip().startswith("#")}
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            skip.update(range(body[0].lineno, body[0].end_lineno + 1))
    return len(lines), len(lines) - len(skip)


if __name__ == "__main__":
    rows = [(p.name, *count(p)) for p in sorted(PACKAGE.glob("*.py"))]
    print(f"{'module':<16} {'lines':>6} {'code':>6}")
    for name, lines, code in rows:
        print(f"{name:<16} {lines:6d} {code:6d}")
    total, code = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'total':<16} {total:6d} {code:6d}")
    print(f"target: <= {TARGET} lines ({total} lines, {'met' if total <= TARGET else 'NOT met'})")
