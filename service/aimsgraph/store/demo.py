"""The demo organisation (``data/demo/``), dated for the day it is loaded.

The demo's files are written as of one reference date, ``REFERENCE_DATE`` (stated in
``data/demo/README.md``): its monitoring stops a few days before it, one piece of evidence has
just expired, the next audit is planned after it. A demo loaded a year later would show gaps it
was never meant to have. So at first start every ``xsd:date`` and ``xsd:dateTime`` in the demo
is moved by the number of days between the reference date and the load date, and the demo shows
exactly its documented gaps on the day it is loaded. Durations, IRIs and labels keep their text
(a label such as "2026 internal audit" keeps its year). After the first start the demo is
ordinary data and ages like any record.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

import pyoxigraph as ox

from aimsgraph import resources
from aimsgraph.namespaces import XSD_DATE, XSD_DATETIME
from aimsgraph.store.record import Term

#: The day the demo's files describe as "today" (data/demo/README.md says the same).
REFERENCE_DATE = date(2026, 11, 26)


def quads(graph: ox.NamedNode, on: date) -> list[ox.Quad]:
    """The demo's triples in ``graph``, with their dates moved so that ``on`` is its reference date."""
    return list(_dated(graph, on))


@functools.lru_cache(maxsize=4)  # a process that loads the demo into several stores (the tests) parses it once
def _dated(graph: ox.NamedNode, on: date) -> tuple[ox.Quad, ...]:
    shift = on - REFERENCE_DATE
    found = []
    for path in resources.demo_files():
        with path.open("rb") as file:
            for quad in ox.parse(file, format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri()):
                found.append(ox.Quad(quad.subject, quad.predicate, _shifted(quad.object, shift), graph))
    return tuple(found)


def _shifted(term: Term, shift: timedelta) -> Term:
    if not shift or not isinstance(term, ox.Literal):
        return term
    if term.datatype.value == XSD_DATE:
        return ox.Literal((date.fromisoformat(term.value) + shift).isoformat(), datatype=term.datatype)
    if term.datatype.value == XSD_DATETIME:
        moment = datetime.fromisoformat(term.value) + shift
        text = moment.isoformat()
        return ox.Literal(
            text[:-6] + "Z" if term.value.endswith("Z") and text.endswith("+00:00") else text, datatype=term.datatype
        )
    return term
