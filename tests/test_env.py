"""helpers.env: profile choice, the hub check's time bound."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from helpers import env


@pytest.fixture
def no_profile_env(monkeypatch):
    monkeypatch.delenv(env.PROFILE_ENV, raising=False)


def hub(answer):
    return lambda: answer


@pytest.mark.parametrize(
    ("setting", "hub_ok", "expected"),
    [
        ("tiny", True, "tiny"),
        ("tiny", False, "tiny"),
        ("real", True, "real"),
        ("auto", True, "real"),
        ("auto", False, "tiny"),
        (None, False, "tiny"),  # unset means auto
        (None, True, "real"),
    ],
)
def test_profile_from_environment(monkeypatch, setting, hub_ok, expected):
    if setting is None:
        monkeypatch.delenv(env.PROFILE_ENV, raising=False)
    else:
        monkeypatch.setenv(env.PROFILE_ENV, setting)
    choice = env.choose_profile(hub_check=hub(hub_ok))
    assert choice.profile == expected
    assert choice.asked == (setting or "auto")


def test_override_beats_environment(monkeypatch):
    monkeypatch.setenv(env.PROFILE_ENV, "real")
    assert env.choose_profile("tiny", hub_check=hub(False)).profile == "tiny"


def test_real_without_hub_is_a_clear_error(no_profile_env):
    with pytest.raises(env.ProfileError, match="hub"):
        env.choose_profile("real", hub_check=hub(False))


def test_unknown_profile_is_rejected(monkeypatch):
    monkeypatch.setenv(env.PROFILE_ENV, "huge")
    with pytest.raises(env.ProfileError, match="huge"):
        env.choose_profile(hub_check=hub(True))


def test_auto_falls_back_when_the_model_does_not_fit(no_profile_env):
    free = env.hardware().free_gb
    big = env.choose_profile("auto", need_gb=free * 10, hub_check=hub(True))
    assert big.profile == "tiny" and "GB" in big.reason
    small = env.choose_profile("auto", need_gb=0.001, hub_check=hub(True))
    assert small.profile == "real"


def test_hub_check_answers_within_its_time_bound(monkeypatch):
    """A connection that hangs must not hang the check."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    env._HUB_CACHE.clear()

    def hanging(*args, **kwargs):
        time.sleep(5)
        raise OSError("never answered")

    monkeypatch.setattr(socket, "create_connection", hanging)
    t0 = time.monotonic()
    assert env.hub_reachable(timeout=0.5) is False
    assert time.monotonic() - t0 < 1.5
    env._HUB_CACHE.clear()


def test_hub_check_is_offline_under_hf_hub_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    env._HUB_CACHE.clear()

    def fail(*args, **kwargs):
        raise AssertionError("the check touched the network")

    monkeypatch.setattr(socket, "create_connection", fail)
    assert env.hub_reachable() is False


def test_hub_check_probes_the_host_and_port_that_hf_endpoint_names(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    asked = []
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: asked.append(address) or socket.socket())
    for endpoint, address in [(None, ("huggingface.co", 443)), ("http://10.0.0.7", ("10.0.0.7", 80)),
                              ("https://hf-mirror.example:8443/", ("hf-mirror.example", 8443))]:
        if endpoint:
            monkeypatch.setenv("HF_ENDPOINT", endpoint)
        env._HUB_CACHE.clear()
        assert env.hub_reachable() is True and asked[-1] == address
    assert env.hub_endpoint() == "https://hf-mirror.example:8443"
    env._HUB_CACHE.clear()


def test_hub_check_answers_for_a_hub_on_loopback_and_names_it_when_down(monkeypatch, no_profile_env):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        env._HUB_CACHE.clear()
        assert env.hub_reachable(timeout=1) is True
    env._HUB_CACHE.clear()  # the port is closed now
    assert env.choose_profile("auto").reason == f"auto: hub not reachable ({env.hub_endpoint()})"
    env._HUB_CACHE.clear()


def test_is_commit():
    assert env.is_commit("a" * 40) and env.is_commit("0123456789ABCDEF0123456789abcdef01234567")
    assert not any(env.is_commit(r) for r in ("main", "a" * 39, "g" * 40, None, ""))


def test_seed_makes_python_numpy_and_torch_repeatable():
    import random

    import numpy as np
    import torch

    def draw():
        return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()

    assert env.seed(123) == 123
    first = draw()
    env.seed(123)
    assert draw() == first
    env.seed(124)
    assert draw() != first


def _in_fresh_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_cpu_only_check_agrees_with_torch():
    import torch

    if env.cpu_only_here():  # the cheap answer may only ever be "certainly no GPU"
        assert not torch.cuda.is_available() and not torch.backends.mps.is_available()
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert env.hardware().device == expected


def test_report_imports_torch_only_where_it_could_find_a_gpu():
    out = _in_fresh_python("import sys; from helpers import env; env.report('tiny'); print('torch' in sys.modules)")
    assert out.splitlines()[-1] == str(not env.cpu_only_here())
    assert "torch" in out and "device" in out  # the version and the device are still reported


def test_quiet_reaches_libraries_imported_before_and_after_it():
    check = ("import transformers, datasets; from transformers.utils import logging as tl; "
             "print(tl.get_verbosity() == tl.ERROR, tl.is_progress_bar_enabled(), "
             "datasets.is_progress_bar_enabled(), datasets.logging.get_verbosity() == datasets.logging.ERROR)")
    clean = "import os; [os.environ.pop(k, None) for k in env.QUIET_ENV]; "
    after = _in_fresh_python(f"from helpers import env; {clean}env.quiet(); {check}")
    loud, before = _in_fresh_python(f"from helpers import env; {clean}{check}; env.quiet(); {check}").splitlines()
    assert after == before == "True False False True"
    assert loud != after  # the check can fail


def test_quiet_silences_only_the_known_library_warnings():
    code = ("import warnings; from helpers import env\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    env.quiet()\n"
            "    warnings.warn('`is_gradient_checkpointing` is deprecated and will be removed', FutureWarning)\n"
            "    warnings.warn('TypedStorage is deprecated. It will be removed in the future', UserWarning)\n"
            "    warnings.warn('something else', FutureWarning)\n"
            "print([str(w.message) for w in caught])")
    assert _in_fresh_python(code) == "['something else']"


def test_report_names_profile_and_versions(capsys):
    env.report("tiny")
    out = capsys.readouterr().out
    assert "profile" in out and "tiny" in out and "transformers" in out
