"""``camtwin serve``: the web workbench (FastAPI + uvicorn), on 127.0.0.1 by default.

Beyond loopback the server needs an access token (``--token`` or the environment variable
``CAMTWIN_WEB_TOKEN``) unless ``--no-auth`` says otherwise explicitly; it answers only the
host names it serves (loopback names, the bound address, ``--allowed-host``).
"""

from __future__ import annotations

import typer

from ..extras import require


def register(app, guard, fail, console) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind; the default serves this "
                                                    "machine only. Any other address needs "
                                                    "--token (or --no-auth)."),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
        workers: int = typer.Option(0, min=0, max=64,
                                    help="Simulation threads; 0: min(2, CPUs)."),
        max_megapixels: float = typer.Option(1.5, min=0.001, max=400.0,
                                             help="Largest sensor a capture may simulate "
                                                  "[MP] (after the optional centre crop)."),
        max_upload_mb: float = typer.Option(8.0, min=0.01, max=512.0,
                                            help="Largest image upload [MiB]."),
        max_body_kb: float = typer.Option(1024.0, min=1.0, max=65536.0,
                                          help="Largest JSON request body [KiB]."),
        token: str = typer.Option(None, envvar="CAMTWIN_WEB_TOKEN", show_default=False,
                                  help="Access token every request must carry (header "
                                       "'Authorization: Bearer TOKEN', or open "
                                       "/?token=TOKEN once in the browser); at least 16 "
                                       "characters. Also read from CAMTWIN_WEB_TOKEN."),
        allowed_host: list[str] = typer.Option(
            None, "--allowed-host", help="Host name the server answers (Host header), "
                                         "repeatable; loopback names and --host are always "
                                         "allowed; '*' accepts any."),
        no_auth: bool = typer.Option(False, "--no-auth",
                                     help="Serve beyond loopback without a token (anyone who "
                                          "can reach the port can run simulations)."),
        log_level: str = typer.Option("info", help="uvicorn log level."),
    ):
        """Serve the web workbench and its JSON API (OpenAPI at /openapi.json, /docs)."""
        guard(require, "web", "camtwin serve")
        guard(_serve, host, port, workers, max_megapixels, max_upload_mb, max_body_kb, token,
              allowed_host or [], no_auth, log_level, console)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_settings(host, workers, max_megapixels, max_upload_mb, max_body_kb, token,
                   allowed_hosts, no_auth):
    """The :class:`WebSettings` of ``camtwin serve``; refuses a non-loopback bind without a
    token unless ``no_auth``."""
    from ..errors import ConfigError
    from ..web import WebSettings
    from ..web.settings import LOOPBACK_HOSTS

    token = token or None
    if not is_loopback(host) and token is None and not no_auth:
        raise ConfigError(f"--host = {host!r}: serving beyond this machine needs --token "
                          "(or CAMTWIN_WEB_TOKEN); pass --no-auth to serve without one")
    if token is not None and no_auth:
        raise ConfigError("--no-auth: contradicts --token (or CAMTWIN_WEB_TOKEN); give one")
    hosts = list(LOOPBACK_HOSTS)
    if host not in ("0.0.0.0", "::"):
        hosts.append(host.strip("[]"))
    hosts += [h for h in allowed_hosts if h]
    return WebSettings(workers=workers, max_pixels=int(max_megapixels * 1e6),
                       max_upload_bytes=int(max_upload_mb * 2**20),
                       max_body_bytes=int(max_body_kb * 2**10),
                       allowed_hosts=tuple(dict.fromkeys(hosts)), auth_token=token)


def _serve(host, port, workers, max_megapixels, max_upload_mb, max_body_kb, token,
           allowed_hosts, no_auth, log_level, console):
    import uvicorn

    from ..errors import ConfigError
    from ..web import create_app

    if log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise ConfigError(f"--log-level = {log_level!r}: valid choices are critical, error, "
                          "warning, info, debug, trace")
    settings = serve_settings(host, workers, max_megapixels, max_upload_mb, max_body_kb, token,
                              allowed_hosts, no_auth)
    if not is_loopback(host):
        how = ("an access token is required" if settings.auth_token else
               "WITHOUT a token (--no-auth): anyone who can reach it can run simulations")
        console.print(f"note: serving on {host}: {how}; host names answered: "
                      f"{', '.join(settings.allowed_hosts)}", markup=False)
    console.print(f"camtwin workbench on http://{host}:{port}/ "
                  f"({settings.workers} simulation threads; API: /docs)", markup=False)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
