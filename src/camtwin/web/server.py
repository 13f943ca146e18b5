"""A real uvicorn server in a background thread (notebooks, tests, benchmarks).

Example
-------
>>> from camtwin.web.server import BackgroundServer
>>> with BackgroundServer() as srv:          # doctest: +SKIP
...     print(srv.url)                        # http://127.0.0.1:<free port>/
"""

from __future__ import annotations

import threading
import time

from ..errors import CamtwinError
from .settings import WebSettings


class BackgroundServer:
    """Serve the workbench on ``host`` (default 127.0.0.1) at a free port, in a thread.

    ``port=0`` lets the OS choose; :attr:`url` holds the address once started.
    """

    def __init__(self, settings: WebSettings | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, startup_timeout_s: float = 30.0):
        import uvicorn

        from .app import create_app

        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning",
                                lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="camtwin-web-server",
                                        daemon=True)
        self._timeout = startup_timeout_s
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> "BackgroundServer":
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise CamtwinError(f"the web server did not start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise CamtwinError(f"the web server did not start within {self._timeout} s")
            time.sleep(0.02)
        sockets = [s for srv in self._server.servers for s in srv.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
