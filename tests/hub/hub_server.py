"""A Hugging Face hub on 127.0.0.1 for tests: serves a fixture folder the way the hub serves repositories.

    python tests/hub/hub_server.py ROOT --port N [--github-port M] [--die-after BYTES --die-on PART]

``ROOT`` is what ``tests/hub/hub_fixture.py`` writes: ``index.json`` (per repository its refs, e.g.
``{"main": <sha>}``, and whether it is gated) and the files of every commit under
``ROOT/<models|datasets>/<org>/<name>/<sha>/``; raw GitHub files under ``ROOT/github/``, served on the
second port at ``/<owner>/<repo>/<commit>/<path>`` (the layout of raw.githubusercontent.com; a port of
its own because ``datasets`` reads every URL under ``HF_ENDPOINT`` as a hub repository).

It answers what ``huggingface_hub``, ``transformers`` and ``datasets`` ask (``HF_ENDPOINT`` points them
here): ``HEAD``/``GET /[datasets/]<repo>/resolve/<rev>/<path>`` with ``X-Repo-Commit``, ``ETag``,
``Content-Length`` and byte ranges (so an interrupted download resumes), ``/api/<models|datasets>/<repo>
[/revision/<rev>]``, ``/api/.../tree/<rev>[/<dir>]`` and ``POST /api/.../paths-info/<rev>``. Errors carry
the hub's ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``: 401
without a token, 403 with a token that was not granted access). ``--die-after B --die-on PART`` makes the
process exit after sending B bytes of the first file whose path contains PART (a server dying mid-download).
Every request is appended to ``ROOT/requests.log``; requests it cannot answer also to ``ROOT/unknown.log``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "hf_fixture_granted_token"  # the one token the fixture treats as granted access to gated repositories
KINDS = {"models": "model", "datasets": "dataset"}


class Hub(BaseHTTPRequestHandler):
    root: Path
    index: dict
    die: tuple[int, str] | None = None
    github_port = 0
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one line per request, into the log file
        with open(self.root / "requests.log", "a", encoding="utf-8") as fh:
            fh.write(f"{self.command} {self.path} {self.headers.get('Range', '')}\n")

    def do_HEAD(self):
        self.route(body=False)

    def do_GET(self):
        self.route(body=True)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.form = self.rfile.read(length).decode() if length else ""
        self.route(body=True)

    # ------------------------------------------------------------------ routing
    def route(self, body: bool):
        path = unquote(urlsplit(self.path).path)
        if self.server.server_address[1] == self.github_port:
            if m := re.fullmatch(r"/([^/]+/[^/]+)/([0-9a-f]{40})/(.+)", path):
                return self.file(self.root / "github" / m[1] / m[2] / m[3], body, {})
            return self.error(404, "NotFound", f"fixture GitHub: no file {path}")
        if m := re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/revision/(.+))?", path):
            return self.info(KINDS[m[1]], m[2], m[3] or "main")
        if m := re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path):
            return self.tree(KINDS[m[1]], m[2], m[3], (m[4] or "").strip("/"))
        if m := re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)/paths-info/([^/]+)", path):
            return self.paths_info(KINDS[m[1]], m[2], m[3])
        if m := re.fullmatch(r"/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            kind = "dataset" if m[1] else "model"
            if (found := self.commit(kind, m[2], m[3])) is not None:
                repo_dir = self.repo_dir(kind, m[2]) / found
                return self.file(repo_dir / m[4], body, {"X-Repo-Commit": found}, entry=True)
            return None
        with open(self.root / "unknown.log", "a", encoding="utf-8") as fh:
            fh.write(f"{self.command} {self.path}\n")
        return self.error(404, "NotFound", f"fixture hub: no route for {path}")

    # ------------------------------------------------------------------ answers
    def repo_dir(self, kind: str, repo: str) -> Path:
        return self.root / f"{kind}s" / repo

    def commit(self, kind: str, repo: str, rev: str) -> str | None:
        """The commit ``rev`` names, or None after answering with the hub's error."""
        entry = self.index[f"{kind}s"].get(repo)
        if entry is None:
            return self.error(404, "RepoNotFound", f"Repository not found: {repo}")
        if entry.get("gated") and self.headers.get("Authorization") != f"Bearer {TOKEN}" and "/api/" not in self.path:
            if self.headers.get("Authorization"):
                return self.error(403, "GatedRepo", f"Access to {kind} {repo} is restricted and you are not in "
                                  "the authorized list. Visit its page to ask for access.")
            return self.error(401, "GatedRepo", f"Access to {kind} {repo} is restricted. You must have access "
                              "to it and be authenticated to access it. Please log in.")
        sha = entry["refs"].get(rev, rev if rev in entry["refs"].values() else None)
        if sha is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return sha

    def info(self, kind: str, repo: str, rev: str):
        if (sha := self.commit(kind, repo, rev)) is None:
            return
        files = sorted(p.relative_to(self.repo_dir(kind, repo) / sha).as_posix()
                       for p in (self.repo_dir(kind, repo) / sha).rglob("*") if p.is_file())
        entry = self.index[f"{kind}s"][repo]
        self.json({"id": repo, "_id": repo, "sha": sha, "private": False, "disabled": False,
                   "gated": "manual" if entry.get("gated") else False, "downloads": 0, "likes": 0, "tags": ["fixture"],
                   "siblings": [{"rfilename": f} for f in files], "lastModified": "2026-01-01T00:00:00.000Z"})

    def entries(self, base: Path, paths) -> list[dict]:
        out = []
        for p in paths:
            rel = p.relative_to(base).as_posix()
            if p.is_dir():
                out.append({"type": "directory", "oid": hashlib.sha1(rel.encode()).hexdigest(), "size": 0, "path": rel})
            elif p.is_file():
                data = p.read_bytes()
                item = {"type": "file", "oid": _git_oid(data), "size": len(data), "path": rel}
                if p.suffix in (".safetensors", ".parquet"):  # stored with Git LFS on the hub
                    item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                out.append(item)
        return out

    def tree(self, kind: str, repo: str, rev: str, sub: str):
        if (sha := self.commit(kind, repo, rev)) is None:
            return
        base = self.repo_dir(kind, repo) / sha
        folder = base / sub
        if not folder.is_dir():
            return self.error(404, "EntryNotFound", f"{sub} does not exist on {rev}")
        recursive = parse_qs(urlsplit(self.path).query).get("recursive", ["false"])[0].lower() == "true"
        self.json(self.entries(base, sorted(folder.rglob("*") if recursive else folder.iterdir())))

    def paths_info(self, kind: str, repo: str, rev: str):
        if (sha := self.commit(kind, repo, rev)) is None:
            return
        form = parse_qs(getattr(self, "form", ""))
        if not form and getattr(self, "form", "").startswith("{"):
            form = {"paths": json.loads(self.form).get("paths", [])}
        base = self.repo_dir(kind, repo) / sha
        self.json(self.entries(base, [base / p for p in form.get("paths", [])]))

    def file(self, path: Path, body: bool, headers: dict, entry: bool = False):
        if not path.is_file():
            code = "EntryNotFound" if entry else "NotFound"
            return self.error(404, code, f"{path.name} does not exist")
        data = path.read_bytes()
        etag = hashlib.sha256(data).hexdigest() if path.suffix in (".safetensors", ".parquet") else _git_oid(data)
        start = 0
        if m := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "")):
            start = min(int(m[1]), len(data))
        self.send_response(206 if start else 200)
        headers = {"ETag": f'"{etag}"', **headers, "Content-Length": str(len(data) - start),
                   "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not body:
            return
        if self.die and self.die[1] in path.as_posix():
            self.wfile.write(data[start:start + self.die[0]])
            self.wfile.flush()
            os._exit(3)  # the server dies in the middle of the download
        self.wfile.write(data[start:])

    def json(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, status: int, code: str, message: str) -> None:
        data = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return None


def _git_oid(data: bytes) -> str:
    """The git blob id of ``data`` (what the hub reports as a regular file's oid and ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--github-port", type=int, default=0, help="serve ROOT/github/ here as raw GitHub files")
    parser.add_argument("--die-after", type=int, default=0, help="bytes sent before the process exits")
    parser.add_argument("--die-on", default="", help="part of the file path that triggers --die-after")
    args = parser.parse_args(argv)
    Hub.root = args.root
    Hub.index = json.loads((args.root / "index.json").read_text(encoding="utf-8"))
    Hub.die = (args.die_after, args.die_on) if args.die_on else None
    Hub.github_port = args.github_port
    ThreadingHTTPServer.allow_reuse_address = True
    servers = [ThreadingHTTPServer(("127.0.0.1", port), Hub) for port in (args.port, args.github_port) if port]
    for extra in servers[1:]:
        threading.Thread(target=extra.serve_forever, daemon=True).start()
    print(f"serving {args.root} on http://127.0.0.1:{args.port} (GitHub files: port {args.github_port})", flush=True)
    servers[0].serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
