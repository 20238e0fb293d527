"""``geo-crm demo`` serves with the production server of the README (granian), not Flask's
development server and its "do not use it in production" warning (issue 17, item 9)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from geo_crm import wsgi
from geo_crm.errors import ValidationError

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def one_region(sql):
    sql(
        "INSERT INTO regions (code, name, name_en, level, boundary) VALUES ('T0', '测试省', "
        "'Test', 'province', ST_Multi(ST_GeomFromText("
        "'POLYGON((100 20, 102 20, 102 22, 100 22, 100 20))', 4326)))"
    )


def test_the_demo_serves_with_the_production_server(cli, one_region, monkeypatch):
    def development_server(*args, **kwargs):
        raise AssertionError("the demo started Flask's development server")

    served = []
    monkeypatch.setattr("werkzeug.serving.run_simple", development_server)
    monkeypatch.setattr(wsgi, "serve", lambda app, host, port: served.append((app, host, port)))
    port = _free_port()
    result = cli.invoke(args=["demo", "--outlets", "20", "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert [(host, p) for _, host, p in served] == [("127.0.0.1", port)]
    assert served[0][0] is cli.app
    assert result.output.splitlines()[-1] == (
        f"[4/4] serving on http://127.0.0.1:{port} (Ctrl+C to stop)"
    )


def test_a_taken_port_is_one_line_before_anything_is_served(cli, one_region):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli.invoke(args=["demo", "--outlets", "20", "--port", str(port)])
    assert result.exit_code == 1
    last = result.output.splitlines()[-1]
    assert last.startswith(f"error: cannot serve on 127.0.0.1:{port}: ")
    assert "choose another --port" in last
    assert "serving on" not in result.output
    with pytest.raises(ValidationError) as caught:
        with socket.socket() as again:
            again.bind(("127.0.0.1", 0))
            again.listen()
            wsgi.check_address("127.0.0.1", again.getsockname()[1])
    assert caught.value.fields == {"port": "in use"}


_SERVE = """
import sys
from geo_crm import create_app
from geo_crm.wsgi import serve
app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "SECRET_KEY": "x"})
serve(app, "127.0.0.1", int(sys.argv[1]))
"""


def test_serve_answers_with_granian_and_prints_nothing_of_its_own():
    """The real server in a process of its own: granian's workers answer, start-up and Ctrl+C
    print nothing (the demo's own lines are all a user sees), no warning."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        headers = None
        deadline = time.monotonic() + 120  # a start-up deadline on a loaded machine, not a speed
        while headers is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as r:
                    headers = r.headers
            except urllib.error.HTTPError as answer:  # an answer all the same
                headers = answer.headers
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert headers is not None, server.stderr.read() if server.poll() is not None else ""
        assert headers["Server"] == "granian"
        assert headers["X-Content-Type-Options"] == "nosniff"  # the app's own headers pass
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0
    assert out == "" and err == ""
