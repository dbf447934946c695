"""Execute the collection's notebooks headless: refresh committed outputs, HTML, timings.

``python -m survey_tools.notebooks run [NAMES...]`` executes each notebook in the profile in force
(``make run`` sets ``tiny``), writes the executed notebook back in place (the committed outputs),
an HTML copy to ``build/html/`` and prints a table of wall seconds and the kernel's peak memory.
``bench/notebooks.py`` uses the same :func:`execute` without writing anything back.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"


@dataclass
class Run:
    name: str
    seconds: float
    peak_mb: float
    cells: int
    error: str = ""
    exit_s: float = 0.0  # of ``seconds``: the kernel shutting down after the last cell


def notebooks(names: list[str] | None = None) -> list[Path]:
    """The notebooks in order, or those whose file name contains one of ``names``."""
    paths = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if any(n in p.name for n in names)]
        if not paths:
            have = [p.name for p in sorted(NOTEBOOK_DIR.glob("*.ipynb"))]
            raise SystemExit(f"no notebook matches {names}; have: {have}")
    return paths


class _PeakMemory:
    """Poll a process tree's resident memory in a thread; :meth:`stop` returns the peak in MB."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak = interval, 0
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def watch(self, pid: int) -> None:
        self._pid = pid
        if not self._thread.is_alive():
            self._thread.start()

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                proc = psutil.Process(self._pid)
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                self.peak = max(self.peak, rss)
            except Exception:  # noqa: BLE001 - the kernel may be starting or gone
                pass
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)
        return self.peak / 2**20


def execute(path: Path, timeout: int = 600, write_back: bool = False, html: bool = False) -> Run:
    """Execute one notebook in a fresh kernel; measure wall time and the kernel's peak memory."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    nb = nbformat.read(path, as_version=4)
    mem = _PeakMemory()
    error = ""
    # IPC sockets, not TCP: a local kernel needs no network port (ipykernel warns about unencrypted TCP)
    with tempfile.TemporaryDirectory(prefix="kernel-", ignore_cleanup_errors=True) as sockets:
        config = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False, config=config,
                                resources={"metadata": {"path": str(path.parent)}})
        t0 = time.perf_counter()
        with client.setup_kernel():
            proc = getattr(client.km, "provisioner", None)
            pid = getattr(getattr(proc, "process", None), "pid", None)
            if pid:
                mem.watch(pid)
            try:
                client.execute(cleanup_kc=False)
            except CellExecutionError as exc:
                error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            t_last_cell = time.perf_counter()
        seconds = time.perf_counter() - t0
    peak = mem.stop()
    if write_back and not error:
        for cell in nb.cells:  # timings from other tools would make every run a diff
            cell.metadata.pop("execution", None)
        nbformat.write(nb, path)
    if html:
        from nbconvert import HTMLExporter

        out = BUILD_DIR / "html" / (path.stem + ".html")
        out.parent.mkdir(parents=True, exist_ok=True)
        body, _ = HTMLExporter().from_notebook_node(nb)
        out.write_text(body, encoding="utf-8")
        executed = BUILD_DIR / "executed" / path.name
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    n_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    return Run(path.stem, seconds, peak, n_cells, error, seconds - (t_last_cell - t0))


def table(runs: list[Run]) -> str:
    """Wall seconds from kernel start to kernel exit; ``kernel exit s`` is the part after the last cell
    (interpreter shutdown: 1-3 s once torch and transformers are imported)."""
    lines = [f"{'notebook':<28} {'wall s':>8} {'kernel exit s':>14} {'peak MB':>9} {'cells':>6}  status",
             "-" * 79]
    for r in runs:
        lines.append(f"{r.name:<28} {r.seconds:8.1f} {r.exit_s:14.1f} {r.peak_mb:9.0f} {r.cells:6d}  "
                     f"{r.error or 'ok'}")
    lines.append(f"{'total':<28} {sum(r.seconds for r in runs):8.1f} {sum(r.exit_s for r in runs):14.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m survey_tools.notebooks")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute notebooks, refresh committed outputs, write build/")
    run.add_argument("names", nargs="*", help="parts of notebook file names (default: all)")
    run.add_argument("--no-write", action="store_true", help="do not write outputs back into notebooks/")
    args = parser.parse_args(argv)
    runs = []
    for path in notebooks(args.names):
        print(f"running {path.name} ...", flush=True)
        runs.append(execute(path, write_back=not args.no_write, html=True))
    print(table(runs))
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
