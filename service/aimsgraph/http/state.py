"""What request handlers share: the :class:`~aimsgraph.runtime.Runtime` the application factory
(``app.create_app``) keeps in ``app.extensions["aimsgraph"]``, and :func:`state`, the typed way
to reach it."""

from __future__ import annotations

from flask import Flask, current_app

from aimsgraph.runtime import Runtime

#: The key of the state in ``app.extensions``.
EXTENSION = "aimsgraph"


def state(app: Flask | None = None) -> Runtime:
    """The state of ``app``; by default of the application handling the request (or whose
    application context is pushed)."""
    found = (app if app is not None else current_app).extensions[EXTENSION]
    if not isinstance(found, Runtime):
        raise TypeError(f"app.extensions[{EXTENSION!r}] holds no Runtime: the application was not made by create_app")
    return found
