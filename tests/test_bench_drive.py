"""bench_geotag's open-loop client: a kept-alive connection the server closes while it is idle
is dropped from the free list (it used to stay there, and the next send on it crashed the run
or counted a failure that the server never saw), within a run and between runs."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_geotag.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_geotag_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class IdleClosingServer:
    """HTTP/1.1 keep-alive on loopback that answers every request with 200 and closes a
    connection once it has been idle for ``idle_s`` (as gunicorn's keep-alive timeout does)."""

    def __init__(self, idle_s: float):
        self.idle_s = idle_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answered = 0
        self.closed_idle = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        conn.settimeout(self.idle_s)
        buf = b""
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    self.closed_idle += 1
                    return  # idle too long: close, as a keep-alive timeout does
                if not chunk:
                    return
                buf += chunk
                while b"\r\n\r\n" in buf:
                    head, _, rest = buf.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    if len(rest) < length:
                        break
                    buf = rest[length:]
                    self.answered += 1
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self):
        self._stop.set()
        self.listener.close()


@pytest.fixture
def server():
    srv = IdleClosingServer(idle_s=0.15)
    yield srv
    srv.close()


def requests(bench, n):
    return [bench.http_put(f"/x/{i}", {"i": i}, None) for i in range(n)]


def test_a_connection_closed_while_idle_in_a_run_is_not_reused(bench, server):
    # 4 requests a second: every connection sits idle past the server's 0.15 s between them
    result = bench.drive(server.port, requests(bench, 5), rate=4, connections=2)
    assert result["statuses"] == {200: 5}
    assert server.closed_idle >= 1


def test_kept_connections_closed_between_runs_are_replaced(bench, server):
    idle = []
    first = bench.drive(server.port, requests(bench, 6), rate=200, idle=idle)
    assert first["statuses"] == {200: 6} and idle
    time.sleep(0.4)  # the server closes them all meanwhile
    second = bench.drive(server.port, requests(bench, 6), rate=200, idle=idle)
    assert second["statuses"] == {200: 6}
    assert server.answered == 12
    bench.close_all(idle)


def test_open_kept_connections_are_used_again(bench):
    srv = IdleClosingServer(idle_s=5)
    try:
        idle = []
        bench.drive(srv.port, requests(bench, 4), rate=200, idle=idle)
        kept = list(idle)
        result = bench.drive(srv.port, requests(bench, 4), rate=200, idle=idle)
        assert result["statuses"] == {200: 4}
        assert any(conn in kept for conn in idle)
        bench.close_all(idle)
    finally:
        srv.close()
