"""What the headless-Chromium tests share: Debian's browser, its flags, and a live server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"  # Debian's; never a browser a tool downloads
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def serving(app, *, threaded: bool = False) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields its base URL. ``threaded``: a
    thread per request (the maps benchmark: a page's tiles come in parallel)."""
    server = make_server("127.0.0.1", 0, app, threaded=threaded)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
