"""``camtwin serve``: the web workbench (FastAPI + uvicorn), on 127.0.0.1 by default."""

from __future__ import annotations

import typer


def register(app, guard, fail, console) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind; the default serves this "
                                                    "machine only (the API has no login)."),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
        workers: int = typer.Option(0, min=0, max=64,
                                    help="Simulation threads; 0: min(2, CPUs)."),
        max_megapixels: float = typer.Option(1.5, min=0.001, max=400.0,
                                             help="Largest sensor a capture may simulate "
                                                  "[MP] (after the optional centre crop)."),
        max_upload_mb: float = typer.Option(8.0, min=0.01, max=512.0,
                                            help="Largest image upload [MiB]."),
        log_level: str = typer.Option("info", help="uvicorn log level."),
    ):
        """Serve the web workbench and its JSON API (OpenAPI at /openapi.json, /docs)."""
        guard(_serve, host, port, workers, max_megapixels, max_upload_mb, log_level, console)


def _serve(host, port, workers, max_megapixels, max_upload_mb, log_level, console):
    import uvicorn

    from ..errors import ConfigError
    from ..web import WebSettings, create_app

    if log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise ConfigError(f"--log-level = {log_level!r}: valid choices are critical, error, "
                          "warning, info, debug, trace")
    settings = WebSettings(workers=workers, max_pixels=int(max_megapixels * 1e6),
                           max_upload_bytes=int(max_upload_mb * 2**20))
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]note:[/] serving on {host}: anyone who can reach it can run "
                      "simulations (there is no login)")
    console.print(f"camtwin workbench on [bold]http://{host}:{port}/[/] "
                  f"({settings.workers} simulation threads; API: /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
