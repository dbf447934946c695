"""A network guard for tests and CI: every non-local connection or name lookup raises.

``install(log_path)`` patches ``socket`` in this process. Loopback and Unix sockets stay open (Jupyter
kernels, the browser tests and the hub fixture on 127.0.0.1 need them). Each blocked attempt is also
appended to ``log_path``, so a run can fail on attempts that a library caught and swallowed.

Subprocesses (notebook kernels, ``accelerate launch``, lm-eval) get the same guard through
``tests/sitecustomize/sitecustomize.py``, which Python imports at start-up when that folder is on
``PYTHONPATH`` and ``LLM_SURVEY_FORBID_NETWORK`` is set (``1``, or the log file's path).
"""

from __future__ import annotations

import os
import socket

ENV = "LLM_SURVEY_FORBID_NETWORK"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


class NetworkForbidden(ConnectionError):
    """A connection to a non-local address while the network is forbidden."""


def is_local(host) -> bool:
    host = str(host or "").lower().strip("[]")
    return host in LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def install(log_path: str | None = None) -> None:
    """Make non-local connections and name lookups raise :class:`NetworkForbidden` (idempotent)."""
    if getattr(socket, "_survey_guard", False):
        return

    def refuse(what: str):
        if log_path:
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {what}\n")
        raise NetworkForbidden(f"network access forbidden here: {what}")

    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if not is_local(address[0]):
                refuse(f"connect {address[0]}:{address[1]}")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if not is_local(name):
            refuse(f"lookup {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    socket._survey_guard = True


def install_from_env() -> None:
    """:func:`install` when ``LLM_SURVEY_FORBID_NETWORK`` is set (``1`` or a log file path)."""
    value = os.environ.get(ENV, "").strip()
    if value and value != "0":
        install(None if value == "1" else value)
