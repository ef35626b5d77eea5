"""What request handlers share: the :class:`ServiceState` the application factory
(``app.create_app``) keeps in ``app.extensions["aimsgraph"]``, and :func:`state`, the typed way
to reach it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from aimsgraph.auth import TokenRegistry
from aimsgraph.config import Settings
from aimsgraph.records.refresh import Refresher
from aimsgraph.risk.analysis import ModelCache
from aimsgraph.sparql.executor import ReaderPool
from aimsgraph.store import GraphStore

#: The key of the state in ``app.extensions``.
EXTENSION = "aimsgraph"


@dataclass
class ServiceState:
    """What request handlers need, kept in ``app.extensions["aimsgraph"]``."""

    settings: Settings
    store: GraphStore
    readers: ReaderPool
    models: ModelCache  # the risk model (scores, propagation) of the current store generation
    tokens: TokenRegistry
    refresher: Refresher  # brings the derived graphs up to date after writes


def state(app: Flask | None = None) -> ServiceState:
    """The state of ``app``; by default of the application handling the request (or whose
    application context is pushed)."""
    found = (app if app is not None else current_app).extensions[EXTENSION]
    if not isinstance(found, ServiceState):
        raise TypeError(f"app.extensions[{EXTENSION!r}] holds no ServiceState: the application was not made by create_app")
    return found
