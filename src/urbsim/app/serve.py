"""Serve the policy lab on a free local port, and the headless Chromium that opens it.

Used by the real-browser test and by ``bench/app.py --browser``; also handy for embedding the
app in another local tool.

Example
-------
>>> with serve_app() as url:                          # doctest: +SKIP
...     print(url)
http://127.0.0.1:43817
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from urbsim.errors import UrbsimError

#: Debian's chromium (playwright's own browser download is not used).
CHROMIUM = "/usr/bin/chromium"
#: Flags for a headless chromium that makes no network calls of its own.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(timeout_s: float = 60.0) -> Iterator[str]:
    """Start ``streamlit run streamlit_app.py`` headless on a free port; yield its URL once
    ``/_stcore/health`` answers; stop the server on exit.

    Raises
    ------
    UrbsimError
        The server did not answer within ``timeout_s`` seconds.
    """
    from urbsim.cli import app_path, streamlit_command

    port = free_port()
    proc = subprocess.Popen(
        streamlit_command(port, headless=True),
        cwd=app_path().parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise UrbsimError(f"the app did not answer on {url} within {timeout_s:.0f} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
