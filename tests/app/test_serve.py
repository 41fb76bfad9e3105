"""`urbsim app` as a process: SIGTERM stops the Streamlit server it started (no orphan)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from urbsim.app.serve import free_port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_sigterm_to_urbsim_app_stops_streamlit_too():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "STREAMLIT_SERVER_HEADLESS": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "urbsim.cli", "app", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not _answers(url):
            assert proc.poll() is None and time.monotonic() < deadline, "the app never answered"
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while _answers(url):  # the server itself is gone, not just urbsim
            assert time.monotonic() < deadline, "Streamlit still serves after urbsim stopped"
            time.sleep(0.3)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_server_freezes_the_warmed_heap_before_streamlit_starts(monkeypatch):
    """Objects alive after the warm-up are out of the garbage collector's reach (a full
    collection of them cost every rerun ~0.1 s); then Streamlit's command line runs."""
    import gc

    import streamlit.web.cli

    from urbsim.app import server

    frozen = []
    monkeypatch.setattr(server, "warm", lambda: 0.0)
    monkeypatch.setattr(streamlit.web.cli, "main", lambda: frozen.append(gc.get_freeze_count()))
    monkeypatch.setattr(sys, "argv", ["server", "streamlit_app.py"])
    gc.unfreeze()
    try:
        server.main()
    finally:
        gc.unfreeze()
    assert len(frozen) == 1 and frozen[0] > 0
    assert sys.argv == ["streamlit", "run", "streamlit_app.py"]
