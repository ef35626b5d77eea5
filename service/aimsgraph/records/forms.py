"""Forms from shapes: what the web interface asks for when someone creates or edits a record
entry (an AI system, a risk, a control ...), read from the same SHACL shapes that judge
completeness, so that a form asks for exactly what an auditor will check.

A kind's fields are the property shapes (with a plain IRI path) of every active node shape that
targets its class or a super-class, plus the fields of its form shape in ``shapes/forms.ttl``
(a deactivated node shape: the basics a new entry needs, such as its name, which no
completeness check asks for). A field takes its name, help text, order and group from the
shape (``sh:name``, ``sh:description``, ``sh:order``, ``sh:group``), its cardinality from
``sh:minCount``/``sh:maxCount``, its input from ``sh:datatype``, and its choices from ``sh:in``
or from the instances of ``sh:class`` in the record (a SKOS scheme's concepts, a register's
entries). ``dash:editor`` and ``dash:singleLine`` refine the input where a shape gives them.

:func:`delta` turns a submitted form into the change that makes the entry say exactly that, for
the one write path (``store.changes``); :func:`preview` runs that change as far as the
validation gate and no further, to show the findings it would fix or create.

May import: base modules, store, semantics.
"""

from __future__ import annotations

import re
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cache
from typing import TypeVar

import pyoxigraph as ox
import rdflib
from rdflib import RDF, RDFS, SH, Literal, URIRef
from rdflib.collection import Collection

from aimsgraph import clock, resources
from aimsgraph.auth import Principal
from aimsgraph.errors import InvalidInput, NotFound
from aimsgraph.namespaces import AIMS, DASH, DCT, RDF_TYPE, RDFS_LABEL, RECORD_BASE, TYPE, XSD, Graphs, is_absolute_iri
from aimsgraph.semantics.validation import Finding, ViolationGate, affected_nodes, changed_nodes, shapes_graph, validate_store
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta, commit
from aimsgraph.store.record import Record, local_name

T = TypeVar("T")

#: The kinds the web interface edits: key -> (class, label).
KINDS: dict[str, tuple[str, str]] = {
    "AISystem": (AIMS + "AISystem", "AI system"),
    "Model": (AIMS + "Model", "Model"),
    "Dataset": (AIMS + "Dataset", "Dataset"),
    "Supplier": (AIMS + "Supplier", "Supplier"),
    "Risk": (AIMS + "Risk", "Risk"),
    "ImplementedControl": (AIMS + "ImplementedControl", "Control"),
    "Evidence": (AIMS + "Evidence", "Evidence"),
    "Measurement": (AIMS + "Measurement", "Measurement"),
    "Incident": (AIMS + "Incident", "Incident"),
    "Nonconformity": (AIMS + "Nonconformity", "Nonconformity"),
}
#: More choices than this and a field takes an IRI as text (with the choices as suggestions).
MAX_CHOICES = 300
#: Most values one field takes from a form.
MAX_VALUES = 50

_NUMBER = {XSD + "decimal", XSD + "integer", XSD + "double", XSD + "float", XSD + "nonNegativeInteger", XSD + "positiveInteger"}


@dataclass(frozen=True)
class Field:
    """One input of a form: a property of the entry, as its shapes describe it."""

    path: str
    name: str
    help: str = ""
    order: float = 1e9
    group: str = ""
    min_count: int = 0
    max_count: int | None = None
    datatype: str | None = None  # a literal of this datatype
    classes: tuple[str, ...] = ()  # an IRI of one of these classes
    allowed: tuple[str, ...] = ()  # sh:in
    iri: bool = False  # an IRI of any class
    multiline: bool = False
    checked_by: tuple[str, ...] = ()  # the shapes' ISO clauses / Annex A controls

    @property
    def key(self) -> str:
        """The form field's name: the path's local name and a checksum of the whole path (IRIs
        are awkward in HTML names), the same in every process."""
        return "f_" + re.sub(r"[^A-Za-z0-9]", "_", local_name(self.path)) + "_" + format(zlib.crc32(self.path.encode()), "x")

    @property
    def required(self) -> bool:
        return self.min_count > 0

    @property
    def single(self) -> bool:
        return self.max_count == 1

    @property
    def takes_iri(self) -> bool:
        return bool(self.classes or self.iri or any(is_absolute_iri(a) for a in self.allowed))

    @property
    def input_type(self) -> str:
        """The HTML input: date, datetime-local, number, checkbox, select, url or text."""
        if self.datatype == XSD + "date":
            return "date"
        if self.datatype == XSD + "dateTime":
            return "datetime-local"
        if self.datatype in _NUMBER:
            return "number"
        if self.datatype == XSD + "boolean":
            return "checkbox"
        return "url" if self.takes_iri else "text"


@dataclass(frozen=True)
class Form:
    kind: str
    cls: str
    label: str
    fields: tuple[Field, ...]

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


@dataclass
class Entry:
    """A form filled in: the entry's IRI (None for a new one) and the values by field key."""

    form: Form
    iri: str | None
    values: dict[str, list[str]] = field(default_factory=dict)
    choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # field key -> (IRI, label)


@dataclass(frozen=True)
class Preview:
    """What saving would do to the findings of the nodes the change can affect."""

    fixed: list[Finding]
    created: list[Finding]


# -- the form of a kind ------------------------------------------------------------------------


@cache
def form(kind: str) -> Form:
    """The form of ``kind`` (a key of :data:`KINDS`), built once per process from the shapes."""
    if kind not in KINDS:
        raise NotFound(f"no form for {kind!r}: the kinds are {', '.join(KINDS)}")
    cls, label = KINDS[kind]
    shapes = shapes_graph()
    by_path: dict[str, Field] = {}
    for node_shape in _node_shapes_for(shapes, cls):
        for prop in shapes.objects(node_shape, SH.property):
            found = _field(shapes, prop)
            if found is not None:
                by_path[found.path] = _merged(by_path.get(found.path), found)
    fields = sorted(by_path.values(), key=lambda f: (f.path != RDFS_LABEL, f.order, f.name))
    return Form(kind, cls, label, tuple(fields))


def _node_shapes_for(shapes: rdflib.Graph, cls: str) -> list[rdflib.term.Node]:
    """Active node shapes that target ``cls`` or a class it is a sub-class of, and the form
    shape of ``cls`` (deactivated: it only lays out the form)."""
    wanted = _super_classes(cls)
    found = []
    for shape, target in shapes.subject_objects(SH.targetClass):
        if str(target) in wanted:
            deactivated = shapes.value(shape, SH.deactivated) == Literal(True)
            if not deactivated or (shape, RDF.type, URIRef(AIMS + "FormShape")) in shapes:
                found.append(shape)
    return found


def _super_classes(cls: str) -> set[str]:
    graph = _ontology_classes(tuple(str(p) for p in resources.ontology_files()))
    seen, todo = {cls}, [cls]
    while todo:
        for parent in graph.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@cache
def _ontology_classes(paths: tuple[str, ...]) -> dict[str, set[str]]:
    graph = rdflib.Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    parents: dict[str, set[str]] = {}
    for child, parent in graph.subject_objects(RDFS.subClassOf):
        if isinstance(child, URIRef) and isinstance(parent, URIRef):
            parents.setdefault(str(child), set()).add(str(parent))
    return parents


def _field(shapes: rdflib.Graph, prop: rdflib.term.Node) -> Field | None:
    path = shapes.value(prop, SH.path)
    if not isinstance(path, URIRef):  # inverse, sequence and alternative paths are no input
        return None

    def number(predicate: URIRef) -> int | None:
        value = shapes.value(prop, predicate)
        return int(value) if isinstance(value, Literal) else None

    listed = shapes.value(prop, SH["in"])
    allowed = tuple(str(v) for v in Collection(shapes, listed)) if listed is not None else ()
    group = shapes.value(prop, SH.group)
    editor = shapes.value(prop, URIRef(DASH + "editor"))
    return Field(
        path=str(path),
        name=str(shapes.value(prop, SH.name) or local_name(str(path))),
        help=str(shapes.value(prop, SH.description) or ""),
        order=float(str(shapes.value(prop, SH.order) or 1e9)),
        group=str(shapes.value(group, RDFS.label) or shapes.value(group, SH.name) or "") if group is not None else "",
        min_count=number(SH.minCount) or 0,
        max_count=number(SH.maxCount),
        datatype=str(shapes.value(prop, SH.datatype)) if shapes.value(prop, SH.datatype) is not None else None,
        classes=tuple(str(c) for c in shapes.objects(prop, SH["class"])),
        allowed=allowed,
        iri=shapes.value(prop, SH.nodeKind) == SH.IRI,
        multiline=editor == URIRef(DASH + "TextAreaEditor") or shapes.value(prop, URIRef(DASH + "singleLine")) == Literal(False),
        checked_by=tuple(sorted(str(s) for s in shapes.objects(prop, URIRef(DCT + "source")))),
    )


def _merged(old: Field | None, new: Field) -> Field:
    """Two shapes on one path: the stricter cardinality, the first name and order, both clauses."""
    if old is None:
        return new
    first, second = (old, new) if old.order <= new.order else (new, old)
    maxima = [m for m in (old.max_count, new.max_count) if m is not None]
    return replace(
        first,
        min_count=max(old.min_count, new.min_count),
        max_count=min(maxima) if maxima else None,
        datatype=first.datatype or second.datatype,
        classes=tuple(sorted(set(old.classes) | set(new.classes))),
        allowed=first.allowed or second.allowed,
        iri=old.iri or new.iri,
        multiline=old.multiline or new.multiline,
        help=first.help or second.help,
        checked_by=tuple(sorted(set(old.checked_by) | set(new.checked_by))),
    )


# -- an entry: reading, submitting ------------------------------------------------------------


def kind_of(store: GraphStore, iri: str) -> str:
    """The form kind of an existing entry (its most specific editable class); NotFound if none."""
    record = Record(store)
    classes = set(record.objects(iri, RDF_TYPE))
    for kind, (cls, _) in KINDS.items():
        if cls in classes:
            return kind
    raise NotFound(f"<{iri}> is no {', '.join(label for _, label in KINDS.values())} of the record")


def entry(store: GraphStore, kind: str, iri: str | None) -> Entry:
    """The form of ``kind`` filled with what the record says of ``iri`` (empty for a new entry)."""
    spec = form(kind)
    filled = Entry(spec, iri)
    if iri is not None:
        subject = ox.NamedNode(iri)
        for f in spec.fields:
            quads = store.quads(subject, ox.NamedNode(f.path), None, ox.NamedNode(Graphs.DATA))
            filled.values[f.key] = sorted(_text(q.object) for q in quads if isinstance(q.object, ox.NamedNode | ox.Literal))
    filled.choices = {f.key: _choices(store, f) for f in spec.fields if f.classes or f.allowed}
    return filled


def submitted(store: GraphStore, kind: str, iri: str | None, form_data: Mapping[str, list[str]]) -> Entry:
    """The entry as a form post states it: each field's non-empty values, as sent."""
    spec = form(kind)
    filled = Entry(spec, iri)
    for f in spec.fields:
        values = [v.strip() for v in form_data.get(f.key, []) if v.strip()]
        if f.multiline and not f.single and len(values) == 1:
            values = [line.strip() for line in values[0].splitlines() if line.strip()]
        filled.values[f.key] = values
    filled.choices = {f.key: _choices(store, f) for f in spec.fields if f.classes or f.allowed}
    return filled


def delta(store: GraphStore, filled: Entry) -> tuple[str, Delta]:
    """The entry's IRI (minted for a new one) and the change that makes the record say exactly
    what the form says: each field's old values in the data graph replaced by the new ones.
    InvalidInput naming the field for a value that does not fit it."""
    spec = filled.form
    iri = filled.iri or f"{RECORD_BASE}{spec.kind.lower()}/{uuid.uuid4()}"
    subject, graph = ox.NamedNode(iri), ox.NamedNode(Graphs.DATA)
    change = Delta()
    if filled.iri is None:
        change.added.add(ox.Quad(subject, TYPE, ox.NamedNode(spec.cls), graph))
    for f in spec.fields:
        values = filled.values.get(f.key, [])
        if len(values) > (f.max_count or MAX_VALUES):
            raise InvalidInput(f"{f.name}: at most {f.max_count or MAX_VALUES} value(s)")
        terms = {_term(f, v, filled.choices.get(f.key)) for v in values}
        old = set(store.quads(subject, ox.NamedNode(f.path), None, graph)) if filled.iri else set()
        new = {ox.Quad(subject, ox.NamedNode(f.path), t, graph) for t in terms}
        change.removed |= old - new
        change.added |= new - old
    return iri, change


def _term(f: Field, value: str, choices: list[tuple[str, str]] | None) -> ox.NamedNode | ox.Literal:
    if f.takes_iri:
        if not is_absolute_iri(value):
            raise InvalidInput(f"{f.name}: {value!r} is not an IRI")
        if f.allowed and value not in f.allowed:
            raise InvalidInput(f"{f.name}: {value!r} is not one of the allowed values")
        if choices is not None and len(choices) <= MAX_CHOICES and f.classes and value not in {c for c, _ in choices}:
            raise InvalidInput(f"{f.name}: <{value}> is not one of the record's choices for this field")
        return ox.NamedNode(value)
    if f.datatype == XSD + "date":
        _parsed(f, value, date.fromisoformat)
    elif f.datatype == XSD + "dateTime":
        value = _parsed(f, value, datetime.fromisoformat).isoformat()
        if len(value) == 16:  # a datetime-local input gives minutes only
            value += ":00"
    elif f.datatype in _NUMBER:
        _parsed(f, value, float)
        if (
            f.datatype in {XSD + "integer", XSD + "nonNegativeInteger", XSD + "positiveInteger"}
            and not value.lstrip("-").isdigit()
        ):
            raise InvalidInput(f"{f.name}: {value!r} is not a whole number")
    elif f.datatype == XSD + "boolean":
        if value not in ("true", "false"):
            raise InvalidInput(f"{f.name}: {value!r} is not true or false")
    if f.allowed and value not in f.allowed:
        raise InvalidInput(f"{f.name}: {value!r} is not one of {', '.join(f.allowed)}")
    if f.datatype and f.datatype != XSD + "string":
        return ox.Literal(value, datatype=ox.NamedNode(f.datatype))
    return ox.Literal(value)


def _parsed(f: Field, value: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(value)
    except ValueError:
        raise InvalidInput(f"{f.name}: {value!r} is not a valid {local_name(f.datatype or '')}") from None


def _choices(store: GraphStore, f: Field) -> list[tuple[str, str]]:
    """(IRI, label) of what a field may point at: its sh:in list, or the instances of its classes
    (a SKOS scheme's concepts are typed as their class too), at most MAX_CHOICES + 1."""
    record = Record(store)
    if f.allowed:
        return [(a, record.label(a)) for a in f.allowed]
    found: set[str] = set()
    for cls in f.classes:
        quads = store.quads(None, TYPE, ox.NamedNode(cls), None)
        for quad in quads:
            if isinstance(quad.subject, ox.NamedNode):
                found.add(quad.subject.value)
                if len(found) > MAX_CHOICES:
                    break
    return sorted(((iri, record.label(iri)) for iri in found), key=lambda c: (c[1].lower(), c[0]))


def _text(term: ox.NamedNode | ox.Literal) -> str:
    value = term.value
    if isinstance(term, ox.Literal) and term.datatype.value == XSD + "dateTime":
        return value[:16]  # what a datetime-local input shows
    return value


# -- saving and its preview -------------------------------------------------------------------


class _Previewed(Exception):
    def __init__(self, preview: Preview) -> None:
        self.preview = preview


class _PreviewGate(ViolationGate):
    """The validation gate's before and after, reported instead of enforced: the change is then
    undone by :func:`changes.commit`, as any failing gate's is."""

    def before(self, quads: Iterable[ox.Quad]) -> None:
        self._as_of = clock.today()
        self._focus = set(affected_nodes(self.store, changed_nodes(self.store, quads)))
        self._before = set(validate_store(self.store, self._as_of, self._focus))

    def after(self, quads: Iterable[ox.Quad]) -> None:
        focus = self._focus | set(affected_nodes(self.store, changed_nodes(self.store, quads)))
        after = set(validate_store(self.store, self._as_of, focus))
        raise _Previewed(Preview(sorted(self._before - after), sorted(after - self._before)))


def preview(store: GraphStore, change: Delta, agent: Principal) -> Preview:
    """The findings the change would fix and create, computed on the store with the change
    applied inside the write lock and then undone (journalled, so a crash undoes it too);
    nothing stays written."""
    if not change:
        return Preview([], [])
    try:
        commit(store, change, "form-preview", agent, gate=_PreviewGate(store))
    except _Previewed as previewed:
        return previewed.preview
    return Preview([], [])  # the change was already the record's: nothing to fix or create
