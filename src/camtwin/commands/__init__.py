"""CLI commands of the later pipeline stages (SFR, colour, EMVA 1288, raw processing...).

Each module defines ``register(app, guard, fail, console)`` and is registered from
:mod:`camtwin.cli`; the shared error handling (one line, exit status 2) comes from there.
"""
