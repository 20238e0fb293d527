"""The README's production command (granian, ``geo_crm.wsgi:create_server_app``) in a process
of its own: it serves the app with its headers, refuses an oversized body before reading it,
and geo_crm's warnings reach the server's log (stderr)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _readme_command(port: int) -> list[str]:
    """The production command as the README prints it, on a port of the test's choosing."""
    block = re.search(r"use granian in production:\n(.*?)\n\s+threads overlap", README, re.S)
    assert block, "the README's production command moved"
    words = " ".join(line.strip().rstrip("\\") for line in block.group(1).splitlines()).split()
    assert words[0] == "granian" and words[-1] == "geo_crm.wsgi:create_server_app"
    words[words.index("--port") + 1] = str(port)
    words[words.index("--host") + 1] = "127.0.0.1"
    return [str(Path(sys.executable).with_name("granian")), *words[1:]]


def _ask(port: int, raw: bytes, timeout: float = 30.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(raw)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            if not chunk:
                break
            head += chunk
        return head


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("granian") / "stdout.log"
    env = dict(
        os.environ,
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",  # nothing listens: 503, logged
        SECRET_KEY="production-server-test",
        GEO_CRM_AUTH_REQUIRED="1",
        GEO_CRM_MAX_UPLOAD_BYTES="1048576",
        PYTHONPATH=str(ROOT),
    )
    env.pop("DATABASE_REPLICA_URLS", None)
    with log.open("w") as out:
        proc = subprocess.Popen(
            _readme_command(port),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    # both workers started (each says so): a stop while one still loads the app waits for
    # --workers-kill-timeout; a start-up deadline on a loaded machine, not a speed
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        said = log.read_text()
        if "Started worker-1" in said and "Started worker-2" in said:
            break
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"granian did not start: {log.read_text()} {proc.communicate(timeout=30)}")
    yield port, proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)


def test_the_app_answers_with_its_headers(server):
    port, _ = server
    head = _ask(port, b"GET /login HTTP/1.1\r\nHost: t\r\n\r\n").decode().lower()
    assert head.startswith("http/1.1 200")
    assert "server: granian" in head
    assert "x-content-type-options: nosniff" in head
    assert "content-security-policy:" in head


def test_a_body_past_the_limit_is_refused_unread(server):
    """64 MB announced, a few bytes sent: the answer comes without the rest being read."""
    port, _ = server
    head = _ask(
        port,
        b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 67108864\r\n\r\nusername=a",
    )
    assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_geo_crm_warnings_reach_the_servers_log(server):
    port, proc = server
    head = _ask(
        port, b"GET /api/v1/outlets HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer abc\r\n\r\n"
    )
    assert head.startswith(b"HTTP/1.1 503"), head[:200]
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C in a terminal: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "database unavailable on GET /api/v1/outlets" in err
    assert "Traceback" not in err
