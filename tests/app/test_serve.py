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
