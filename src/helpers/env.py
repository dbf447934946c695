"""Where am I, which profile, and quiet, reproducible settings.

Profiles
--------
``tiny``  small local stand-ins built from text in ``data/`` (no hub, no GPU).
``real``  real hub models and datasets, pinned by revision.
``auto``  ``real`` where the hub answers (and, per model, where it fits), else ``tiny``.

The profile comes from, in order: the ``override`` argument (a notebook's
``parameters`` cell), the ``LLM_SURVEY_PROFILE`` environment variable, then ``auto``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

PROFILES = ("tiny", "real", "auto")
PROFILE_ENV = "LLM_SURVEY_PROFILE"
CACHE_ENV = "LLM_SURVEY_CACHE"
REPO_ROOT = Path(__file__).resolve().parents[2]


class ProfileError(RuntimeError):
    """A profile was asked for that cannot be served here."""


class HubError(RuntimeError):
    """A hub download failed; the message names the repository and revision and says what to do."""


def data_path(*parts: str) -> Path:
    """Path inside the repository's ``data/`` folder."""
    return REPO_ROOT.joinpath("data", *parts)


def read_yaml(path: str | Path, schema, error: type[Exception]):
    """The YAML file ``path`` validated by the pydantic model ``schema``. All problems are raised
    together as ``error``, one line each, naming the file, the line and the field."""
    import yaml
    from pydantic import ValidationError

    text = Path(path).read_text(encoding="utf-8")
    try:
        return schema.model_validate(yaml.safe_load(text) or {})
    except yaml.YAMLError as e:  # its message gives the line and column
        raise error(f"{path}: not valid YAML: {e}") from None
    except ValidationError as e:
        root, problems = yaml.compose(text), []
        for p in e.errors():
            *parents, name = p["loc"] or ("(top level)",)
            within = " / ".join(map(str, parents)) + ", " if parents else ""
            got = "" if p["type"] == "missing" else f", got {p['input']!r}"
            problems.append(f"{path}, line {_line(root, p['loc'])}, {within}field {name!r}: {p['msg']}{got}")
        raise error("\n".join(problems)) from None


def _line(node, loc) -> int:
    """The line of the innermost key of ``loc`` that the YAML tree ``node`` has."""
    import yaml

    line = 1
    for key in loc:
        found = [kv for kv in node.value if kv[0].value == str(key)] if isinstance(node, yaml.MappingNode) else []
        if not found:
            break
        line, node = found[0][0].start_mark.line + 1, found[0][1]
    return line


def cache_dir() -> Path:
    """Where built stand-ins live: ``$LLM_SURVEY_CACHE`` or ``~/.cache/open-llm-survey``."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "open-llm-survey")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- where
def runtime() -> str:
    """``colab``, ``binder``, ``ci`` or ``local``."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if os.environ.get("BINDER_SERVICE_HOST") or os.environ.get("BINDER_REPO_URL"):
        return "binder"
    if os.environ.get("CI"):
        return "ci"
    return "local"


_HUB_CACHE: dict[str, tuple[float, bool]] = {}


def hub_endpoint() -> str:
    """The hub the libraries talk to: ``$HF_ENDPOINT`` (a mirror, a proxy) or ``https://huggingface.co``."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def hub_reachable(timeout: float = 2.0, endpoint: str | None = None) -> bool:
    """Can we open a TCP connection to the hub (``endpoint``, default :func:`hub_endpoint`) within ``timeout``?
    Name resolution shares the deadline; ``HF_HUB_OFFLINE=1`` answers False unasked. Cached for five minutes."""
    import concurrent.futures as cf

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    url = urlsplit(endpoint or hub_endpoint())
    host, port = url.hostname or "", url.port or (80 if url.scheme == "http" else 443)
    cached = _HUB_CACHE.get(f"{host}:{port}")
    if cached and time.monotonic() - cached[0] < 300:
        return cached[1]

    def attempt() -> bool:
        with socket.create_connection((host, port), timeout=timeout):
            return True

    pool = cf.ThreadPoolExecutor(max_workers=1)  # a thread, so that name resolution shares the deadline
    try:
        ok = bool(pool.submit(attempt).result(timeout=timeout))
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        ok = False
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    _HUB_CACHE[f"{host}:{port}"] = (time.monotonic(), ok)
    return ok


def is_commit(revision: str | None) -> bool:
    """A pinned revision: a full 40-hex commit hash (a branch such as ``main`` moves)."""
    return len(rev := (revision or "").lower()) == 40 and all(c in "0123456789abcdef" for c in rev)


@contextlib.contextmanager
def hub_errors(repo: str, revision: str, page: str = ""):
    """Raise the hub libraries' failures as a :class:`HubError` that says what happened and what to do
    (``page``: where a gated repository's licence is accepted)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only the hub's failures are translated, the rest re-raised
        from huggingface_hub import errors

        chain = [exc]
        while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and nxt not in chain:
            chain.append(nxt)
        where = f"{repo} (revision {revision!r}) on {hub_endpoint()}"
        for e in chain:
            if isinstance(e, errors.GatedRepoError):
                raise HubError(f"{where} is gated: accept its licence at {page or hub_endpoint() + '/' + repo} "
                               "while logged in, then give this machine your access token: set HF_TOKEN=<token> "
                               "or run `hf auth login`") from exc
            if isinstance(e, errors.RevisionNotFoundError):
                raise HubError(f"{where}: no such revision. Use a commit hash from the repository's history "
                               "or a branch such as main") from exc
            if isinstance(e, errors.RepositoryNotFoundError):
                raise HubError(f"{where}: no such repository (or it is private); check the id") from exc
            if isinstance(e, errors.OfflineModeIsEnabled):
                raise HubError(f"{where}: HF_HUB_OFFLINE is set, so the hub is not asked; unset it, or use the "
                               "tiny profile") from exc
            if isinstance(e, ConnectionError | TimeoutError) or type(e).__module__.split(".")[0] in {
                    "httpx", "httpx2", "aiohttp", "requests", "urllib3"}:
                raise HubError(f"{where}: the download broke off ({type(e).__name__}: {e}). Run it again: "
                               "the files that finished stay in the cache; only the others are downloaded") from exc
        raise


def hub_commit(repo: str, revision: str, kind: str = "model", *, pin: str = "", page: str = "") -> str:
    """The commit that ``revision`` of hub repository ``repo`` (``kind``: model or dataset) names. A revision that
    is not a commit (``main``) works, with a warning naming today's commit and how to pin it (``pin``: where)."""
    from huggingface_hub import HfApi

    with hub_errors(repo, revision, page):
        sha = getattr(HfApi(), f"{kind}_info")(repo, revision=revision).sha
    if not is_commit(revision):
        warnings.warn(f"{repo}: revision {revision!r} is not pinned; it is commit {sha} today, and results can "
                      f"change when it moves. Pin it: {pin or f'pass revision={sha!r}'}", stacklevel=3)
    return sha


# --------------------------------------------------------------------------- hardware
class Hardware(NamedTuple):
    device: str  # "cuda", "mps" or "cpu"
    name: str
    memory_gb: float  # GPU memory for cuda, else total RAM
    free_gb: float  # free GPU memory for cuda, else available RAM
    bf16: bool
    cpu_count: int


def cpu_only_here() -> bool:
    """True where torch can only use the CPU: Linux with no GPU device node in ``/dev``. Lets :func:`hardware`
    answer without importing torch (about a second); elsewhere (macOS, Windows, a GPU node) torch answers."""
    nodes = ("nvidia[0-9]*", "kfd", "dxg")  # NVIDIA, AMD ROCm, WSL2
    return sys.platform.startswith("linux") and not any(next(Path("/dev").glob(p), None) for p in nodes)


def hardware() -> Hardware:
    """Describe the accelerator (or the CPU) this kernel would use."""
    import psutil

    vm = psutil.virtual_memory()
    cpus = os.cpu_count() or 1
    cpu = Hardware("cpu", platform.processor() or platform.machine(), vm.total / 2**30,
                   vm.available / 2**30, True, cpus)
    if "torch" not in sys.modules and cpu_only_here():
        return cpu
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        free, total = torch.cuda.mem_get_info(0)
        return Hardware("cuda", props.name, total / 2**30, free / 2**30,
                        bool(torch.cuda.is_bf16_supported()), cpus)
    if torch.backends.mps.is_available():
        return Hardware("mps", "Apple MPS", vm.total / 2**30, vm.available / 2**30, False, cpus)
    return cpu


def device() -> str:
    """``cuda``, ``mps`` or ``cpu``."""
    return hardware().device


# --------------------------------------------------------------------------- profile
class ProfileChoice(NamedTuple):
    profile: str  # "tiny" or "real"
    asked: str  # what was asked: "tiny", "real" or "auto"
    reason: str


def choose_profile(override: str | None = None, *, need_gb: float | None = None,
                   hub_check=None) -> ProfileChoice:
    """Resolve the profile and say why. ``need_gb``: the memory a model would take; under ``auto`` a model that
    does not fit this machine's free memory falls back to ``tiny``. ``real`` with no hub raises :class:`ProfileError`.
    """
    asked = (override or os.environ.get(PROFILE_ENV) or "auto").strip().lower()
    if asked not in PROFILES:
        raise ProfileError(f"unknown profile {asked!r} (from {'argument' if override else PROFILE_ENV}); "
                           f"expected one of {', '.join(PROFILES)}")
    if asked == "tiny":
        return ProfileChoice("tiny", asked, "tiny profile asked for")
    hub_ok = (hub_check or hub_reachable)()
    if asked == "real":
        if not hub_ok:
            raise ProfileError("profile 'real' needs the Hugging Face hub, which is not reachable here "
                               "(HF_HUB_OFFLINE set or no network). Use profile 'tiny' or 'auto'.")
        return ProfileChoice("real", asked, "real profile asked for")
    if not hub_ok:
        return ProfileChoice("tiny", asked, f"auto: hub not reachable ({hub_endpoint()})")
    if need_gb is not None and need_gb > (hw := hardware()).free_gb * 0.9:
        return ProfileChoice("tiny", asked, f"auto: needs about {need_gb:.1f} GB, {hw.device} has "
                                            f"{hw.free_gb:.1f} GB free")
    return ProfileChoice("real", asked, "auto: hub reachable")


def profile(override: str | None = None) -> str:
    """The profile in force: ``tiny`` or ``real``."""
    return choose_profile(override).profile


def profile_note(override: str | None = None) -> str:
    """One line for a notebook's profile cell: what was asked and what it means on this machine."""
    choice = choose_profile(override)
    if choice.asked == "auto" and choice.profile == "real":
        return "profile auto: hub reachable; each model loads real where it fits this machine, else as a tiny stand-in"
    return f"profile {choice.asked}: {choice.reason.removeprefix('auto: ')}"


# --------------------------------------------------------------------------- settings
def seed(n: int = 0) -> int:
    """Seed Python's ``random``, NumPy and torch (every device) with ``n``: ``accelerate``'s ``set_seed``
    (``transformers.set_seed`` does the same but imports peft, seconds)."""
    from accelerate.utils import set_seed

    set_seed(n)
    return n


# Read by each library when it is imported: setting them costs nothing in a notebook that never
# imports transformers or datasets (importing them just to call their setters costs about a second).
QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
             "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error", "DATASETS_VERBOSITY": "error"}


def quiet() -> None:
    """Progress bars and noisy logs off (CI and committed outputs), also for libraries imported later."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
    # peft 0.21 reads transformers 5's deprecated `is_gradient_checkpointing` in every PeftModel.__init__
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    # libraries already imported have read the environment: tell them directly
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def report(override: str | None = None) -> None:
    """Print where we run, the hardware, the profile in force and why, and the libraries' versions."""
    from importlib.metadata import PackageNotFoundError, version

    hw, choice = hardware(), choose_profile(override)
    info = {"runtime": runtime(), "device": hw.device, "device_name": hw.name,
            "memory_gb": round(hw.memory_gb, 1), "free_gb": round(hw.free_gb, 1), "bf16": hw.bf16,
            "cpus": hw.cpu_count, "profile": choice.profile, "profile_reason": choice.reason,
            "python": platform.python_version()}
    for pkg in ("torch", "transformers", "tokenizers", "peft", "accelerate", "datasets",
                "pandas", "plotly", "ipywidgets", "lm_eval", "bitsandbytes"):
        try:
            info[pkg] = version(pkg.replace("_", "-"))
        except PackageNotFoundError:
            info[pkg] = "-"
    width = max(len(k) for k in info)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in info.items()))
