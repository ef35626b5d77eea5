"""The fast path of validation: the shapes of ``shapes/`` compiled into SPARQL queries that
pyoxigraph evaluates over the store, for every focus node at once or for a few.

pyshacl is the reference (``validation.validate_graph``); tests prove that both give the same
findings on the demo and on generated organisations. The compiler covers the SHACL features
our shapes use: targets (class, subjects-of, objects-of, node, SPARQL), predicate, inverse,
alternative and sequence paths, and the constraints minCount, maxCount, class, datatype,
nodeKind, minLength, maxLength, pattern, in, hasValue, or, qualifiedValueShape with
qualifiedMinCount/MaxCount, and SHACL-SPARQL constraints. A shape using anything else makes
:func:`compile_shapes` raise, so a new shape cannot be silently skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

import rdflib
from rdflib import RDF, SH, BNode, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS

from aimsgraph.namespaces import RDF_TYPE, RDFS_COMMENT, RDFS_LABEL, RDFS_SUB_CLASS_OF, XSD_DATE

SUBCLASS_PATH = f"<{RDF_TYPE}>/<{RDFS_SUB_CLASS_OF}>*"

#: Parameters that describe a shape rather than constrain it.
_DESCRIPTIVE = {
    SH.name,
    SH.description,
    SH.message,
    SH.severity,
    SH.group,
    SH.order,
    SH.deactivated,
    RDF.type,
    DCTERMS.source,
    SH.targetClass,
    SH.targetSubjectsOf,
    SH.targetObjectsOf,
    SH.targetNode,
    SH.target,
    SH.property,
    SH.sparql,
    SH.path,
    SH.qualifiedMinCount,
    SH.qualifiedMaxCount,
    SH.qualifiedValueShapesDisjoint,
    SH.prefixes,
    URIRef(RDFS_LABEL),
    URIRef(RDFS_COMMENT),
}


class UnsupportedShape(ValueError):
    """A shape uses a SHACL feature the compiler does not translate."""


@dataclass(frozen=True)
class Check:
    """One compiled constraint: a SELECT whose rows are validation results.

    The query projects ``?this`` and, where the constraint has them, ``?value`` and ``?path``,
    plus any variables its message template names. ``{focus}`` in the text is where a
    ``VALUES ?this {...}`` restriction goes for incremental runs.
    """

    shape: str
    severity: str
    message: str
    path: str | None
    query: str
    component: str  # the SHACL constraint component, e.g. sh:MinCountConstraintComponent (full IRI)
    target_classes: tuple[str, ...] | None = None  # the focus nodes are instances of these; None: any
    targets: str = ""  # a graph pattern binding ?this to every focus node of the shape
    #: a SHACL-SPARQL constraint: for a few focus nodes, run once per node with ?this
    #: substituted, as pyoxigraph does not seed its joins from VALUES (700 ms vs 60 ms at 10k)
    per_focus: bool = False

    def text(self, as_of: date, focus: Iterable[str] | None = None) -> str:
        """The check's query as of the evaluation date, restricted to ``focus`` nodes when given."""
        return _fill(self.query, as_of, focus)

    def targets_text(self, as_of: date, focus: Iterable[str] | None = None) -> str:
        """A query selecting the check's focus nodes (?this) as of the evaluation date, among
        ``focus`` when given (the target pattern itself has no ``{focus}`` place)."""
        return "SELECT DISTINCT ?this WHERE { " + _fill("{focus} " + self.targets, as_of, focus) + " }"


def _fill(template: str, as_of: date, focus: Iterable[str] | None) -> str:
    values = "" if focus is None else "VALUES ?this { " + " ".join(f"<{n}>" for n in focus) + " }"
    today = f'VALUES ?today {{ "{as_of.isoformat()}"^^<{XSD_DATE}> }}'
    return template.replace("{focus}", values).replace("{today}", today)


#: How every shape reads the evaluation date (shapes/groups.ttl). The store engine states the
#: date as inline data in its place, so that validation never writes it into the store.
_REFERENCE_DATE = re.compile(r"\?setting\s+ash:referenceDate\s+\?today\s*\.")


def _with_evaluation_date(query: str, shape: str) -> str:
    query = _REFERENCE_DATE.sub("{today}", query)
    if "referenceDate" in query:
        raise UnsupportedShape(f"{shape}: read ash:referenceDate only as `?setting ash:referenceDate ?today .`")
    return query


def compile_shapes(shapes: rdflib.Graph) -> list[Check]:
    """Every constraint of every active shape, compiled to a query."""
    checks: list[Check] = []
    for node_shape in sorted(set(shapes.subjects(RDF.type, SH.NodeShape)), key=str):
        if shapes.value(node_shape, SH.deactivated) == Literal(True):
            continue
        compiler = _ShapeCompiler(shapes, node_shape)
        checks += compiler.node_checks()
        for property_shape in sorted(shapes.objects(node_shape, SH.property), key=str):
            checks += compiler.property_checks(property_shape)
    return [
        replace(c, query=_with_evaluation_date(c.query, c.shape), targets=_with_evaluation_date(c.targets, c.shape))
        for c in checks
    ]


class _ShapeCompiler:
    def __init__(self, shapes: rdflib.Graph, node_shape: rdflib.term.Node) -> None:
        self.g, self.node_shape = shapes, node_shape
        self.prefixes: dict[str, str] = {}
        self.target = self._targets()

    # -- targets ------------------------------------------------------------------------

    def _targets(self) -> str:
        g, shape = self.g, self.node_shape
        patterns = [f"?this {SUBCLASS_PATH} {_n3(c)} ." for c in g.objects(shape, SH.targetClass)]
        patterns += [f"?this {_n3(p)} ?targetObject ." for p in g.objects(shape, SH.targetSubjectsOf)]
        patterns += [f"?targetSubject {_n3(p)} ?this ." for p in g.objects(shape, SH.targetObjectsOf)]
        patterns += [f"VALUES ?this {{ {_n3(n)} }}" for n in g.objects(shape, SH.targetNode)]
        for target in g.objects(shape, SH.target):
            select = g.value(target, SH.select)
            if select is None:
                raise UnsupportedShape(f"{shape}: only SPARQL-based custom targets are supported")
            self._add_prefixes(target)
            patterns.append(f"{{ {_with_focus(_strip_prefixes(str(select)))} }}")
        if not patterns:
            return ""
        return " UNION ".join(f"{{ {p} }}" for p in patterns)

    def _where(self, body: str) -> str:
        """A WHERE clause: the (restricted) targets first, so ?this is bound before the body."""
        return f"{{ {{ SELECT DISTINCT ?this WHERE {{ {{focus}} {self.target} }} }} {body} }}"

    @property
    def target_classes(self) -> tuple[str, ...] | None:
        """The classes all targets select instances of, or None when some target is not a class."""
        g, shape = self.g, self.node_shape
        if any(True for p in (SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode, SH.target) for _ in g.objects(shape, p)):
            return None
        return tuple(sorted(str(c) for c in g.objects(shape, SH.targetClass)))

    # -- node shapes ----------------------------------------------------------------------

    def node_checks(self) -> list[Check]:
        shape = self.node_shape
        if not self.target:
            return []
        checks = [self._sparql_check(shape, c, path=None) for c in self.g.objects(shape, SH.sparql)]
        for component, condition in self._value_conditions(shape, "?this"):
            query = f"SELECT ?this (?this AS ?value) WHERE {self._where(f'FILTER(!({condition}))')}"
            checks.append(self._check(shape, query, None, component))
        return checks

    # -- property shapes ------------------------------------------------------------------

    def property_checks(self, shape: rdflib.term.Node) -> list[Check]:
        if not self.target or self.g.value(shape, SH.deactivated) == Literal(True):
            return []
        path_node = self.g.value(shape, SH.path)
        path = self._path(path_node)
        result_path = str(path_node) if isinstance(path_node, URIRef) else None
        checks = [self._sparql_check(shape, c, result_path, path) for c in self.g.objects(shape, SH.sparql)]
        value_pattern = f"?this {path} ?value ."

        def counted(condition: str = "true", optional: bool = True) -> str:
            inner = f"OPTIONAL {{ {value_pattern} FILTER({condition}) }}" if optional else value_pattern
            return f"{{ SELECT ?this (COUNT(DISTINCT ?value) AS ?count) WHERE {self._where(inner)} GROUP BY ?this }}"

        g = self.g
        for n in g.objects(shape, SH.minCount):
            if _int(n) == 1:
                body = f"FILTER NOT EXISTS {{ {value_pattern} }}"
                checks.append(
                    self._check(shape, f"SELECT ?this WHERE {self._where(body)}", result_path, SH.MinCountConstraintComponent)
                )
            elif _int(n) > 1:
                query = f"SELECT ?this WHERE {{ {counted()} FILTER(?count < {_int(n)}) }}"
                checks.append(self._check(shape, query, result_path, SH.MinCountConstraintComponent))
        for n in g.objects(shape, SH.maxCount):
            query = f"SELECT ?this WHERE {{ {counted(optional=False)} FILTER(?count > {_int(n)}) }}"
            checks.append(self._check(shape, query, result_path, SH.MaxCountConstraintComponent))
        for value in g.objects(shape, SH.hasValue):
            body = f"FILTER NOT EXISTS {{ ?this {path} {_n3(value)} }}"
            checks.append(
                self._check(shape, f"SELECT ?this WHERE {self._where(body)}", result_path, SH.HasValueConstraintComponent)
            )
        for component, condition in self._value_conditions(shape, "?value"):
            body = f"{value_pattern} FILTER(!({condition}))"
            checks.append(self._check(shape, f"SELECT ?this ?value WHERE {self._where(body)}", result_path, component))
        qualified = g.value(shape, SH.qualifiedValueShape)
        if qualified is not None:
            conforms = self._conforms(qualified, "?value")
            for n in g.objects(shape, SH.qualifiedMinCount):
                query = f"SELECT ?this WHERE {{ {counted(conforms)} FILTER(?count < {_int(n)}) }}"
                checks.append(self._check(shape, query, result_path, SH.QualifiedMinCountConstraintComponent))
            for n in g.objects(shape, SH.qualifiedMaxCount):
                query = f"SELECT ?this WHERE {{ {counted(conforms, optional=False)} FILTER(?count > {_int(n)}) }}"
                checks.append(self._check(shape, query, result_path, SH.QualifiedMaxCountConstraintComponent))
        self._refuse_unknown(shape, {SH.minCount, SH.maxCount, SH.hasValue, SH.qualifiedValueShape})
        return checks

    # -- value-level constraints --------------------------------------------------------

    _VALUE_PARAMETERS = (
        SH["class"],
        SH.datatype,
        SH.nodeKind,
        SH.minLength,
        SH.maxLength,
        SH.pattern,
        SH["in"],
        SH["or"],
        SH.flags,
    )

    def _value_conditions(self, shape: rdflib.term.Node, var: str) -> list[tuple[URIRef, str]]:
        """The shape's value-level constraints as (constraint component, SPARQL expression true
        when ``var`` meets it): one validation result per component, as SHACL reports them."""
        g = self.g
        parts = [
            (SH.ClassConstraintComponent, f"EXISTS {{ {var} {SUBCLASS_PATH} {_n3(c)} }}") for c in g.objects(shape, SH["class"])
        ]
        parts += [
            (SH.DatatypeConstraintComponent, f"(isLiteral({var}) && DATATYPE({var}) = {_n3(d)})")
            for d in g.objects(shape, SH.datatype)
        ]
        parts += [(SH.NodeKindConstraintComponent, _NODE_KINDS[k].format(v=var)) for k in g.objects(shape, SH.nodeKind)]
        parts += [
            (SH.MinLengthConstraintComponent, f"(!isBlank({var}) && STRLEN(STR({var})) >= {_int(n)})")
            for n in g.objects(shape, SH.minLength)
        ]
        parts += [
            (SH.MaxLengthConstraintComponent, f"(!isBlank({var}) && STRLEN(STR({var})) <= {_int(n)})")
            for n in g.objects(shape, SH.maxLength)
        ]
        flags = g.value(shape, SH.flags)
        parts += [
            (
                SH.PatternConstraintComponent,
                f"(!isBlank({var}) && REGEX(STR({var}), {_n3(Literal(str(p)))}, {_n3(Literal(str(flags or '')))}))",
            )
            for p in g.objects(shape, SH.pattern)
        ]
        for members in g.objects(shape, SH["in"]):
            parts.append((SH.InConstraintComponent, f"({var} IN ({', '.join(_n3(m) for m in Collection(g, members))}))"))
        for alternatives in g.objects(shape, SH["or"]):
            options = [f"({self._conforms(s, var)})" for s in Collection(g, alternatives)]
            parts.append((SH.OrConstraintComponent, "(" + " || ".join(options) + ")"))
        return parts

    def _value_condition(self, shape: rdflib.term.Node, var: str) -> str:
        """One expression true when ``var`` meets all the shape's value-level constraints."""
        return " && ".join(condition for _, condition in self._value_conditions(shape, var))

    def _conforms(self, shape: rdflib.term.Node, var: str) -> str:
        """A SPARQL expression true when ``var`` conforms to an anonymous shape."""
        if self.g.value(shape, SH.path) is not None:
            return self._property_conforms(shape, var)
        conditions = self._value_condition(shape, var)
        parts = [conditions] if conditions else []
        parts += [f"({var} = {_n3(value)})" for value in self.g.objects(shape, SH.hasValue)]
        parts += [self._property_conforms(prop, var) for prop in self.g.objects(shape, SH.property)]
        self._refuse_unknown(shape, {SH.hasValue})
        return " && ".join(parts) or "true"

    def _property_conforms(self, prop: rdflib.term.Node, var: str) -> str:
        """True when the values of ``var`` along the property shape's path satisfy it."""
        path = self._path(self.g.value(prop, SH.path))
        inner = f"?v{len(var)}_{abs(hash(str(prop))) % 10**6}"
        parts = [f"EXISTS {{ {var} {path} {_n3(value)} }}" for value in self.g.objects(prop, SH.hasValue)]
        found = self.g.value(prop, SH.minCount)
        min_count = _int(found) if found else 0
        if min_count > 1:
            raise UnsupportedShape(f"{prop}: minCount > 1 inside a nested shape")
        if min_count == 1:
            parts.append(f"EXISTS {{ {var} {path} {inner} }}")
        conditions = self._value_condition(prop, inner)
        if conditions:
            parts.append(f"NOT EXISTS {{ {var} {path} {inner} FILTER(!({conditions})) }}")
        self._refuse_unknown(prop, {SH.minCount, SH.hasValue})
        return "(" + (" && ".join(parts) or "true") + ")"

    def _refuse_unknown(self, shape: rdflib.term.Node, handled: set) -> None:
        known = _DESCRIPTIVE | set(self._VALUE_PARAMETERS) | handled
        for predicate in set(self.g.predicates(shape, None)):
            if predicate not in known and str(predicate).startswith(str(SH)):
                raise UnsupportedShape(f"{shape}: {predicate} is not compiled; add it to aimsgraph.semantics.shacl_sparql")

    # -- SHACL-SPARQL -------------------------------------------------------------------

    def _sparql_check(self, shape, constraint, path: str | None, sparql_path: str | None = None) -> Check:
        select = str(self.g.value(constraint, SH.select))
        self._add_prefixes(constraint)
        select = _strip_prefixes(select).replace("$this", "?this")
        if sparql_path is not None:
            select = select.replace("$PATH", sparql_path)
        # Pre-binding $this (SHACL 5.3.1) is emulated by evaluating the targets first, inside
        # the constraint's own WHERE group, so FILTER/NOT EXISTS see ?this bound.
        query = _with_focus(select, f" {{ SELECT DISTINCT ?this WHERE {{ {{focus}} {self.target} }} }} ")
        message = self.g.value(constraint, SH.message) or self.g.value(shape, SH.message)
        return Check(
            str(shape),
            self._severity(shape),
            str(message or ""),
            path,
            query,
            str(SH.SPARQLConstraintComponent),
            self.target_classes,
            self.target,
            per_focus=True,
        )

    # -- helpers ------------------------------------------------------------------------

    def _check(self, shape, query: str, path: str | None, component: URIRef) -> Check:
        message = str(self.g.value(shape, SH.message) or "")
        return Check(str(shape), self._severity(shape), message, path, query, str(component), self.target_classes, self.target)

    def _severity(self, shape) -> str:
        return str(self.g.value(shape, SH.severity) or SH.Violation).rsplit("#", 1)[1]

    def _path(self, node) -> str:
        g = self.g
        if isinstance(node, URIRef):
            return _n3(node)
        if node is None:
            raise UnsupportedShape(f"{self.node_shape}: a property shape without sh:path")
        if (inverse := g.value(node, SH.inversePath)) is not None:
            return f"^({self._path(inverse)})"
        if (alternatives := g.value(node, SH.alternativePath)) is not None:
            return "(" + "|".join(self._path(p) for p in Collection(g, alternatives)) + ")"
        for predicate, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
            if (inner := g.value(node, predicate)) is not None:
                return f"({self._path(inner)}){suffix}"
        if (node, RDF.first, None) in g:
            return "(" + "/".join(self._path(p) for p in Collection(g, node)) + ")"
        raise UnsupportedShape(f"{self.node_shape}: unsupported path {node}")

    def _add_prefixes(self, holder) -> None:
        for ontology in self.g.objects(holder, SH.prefixes):
            for declaration in self.g.objects(ontology, SH.declare):
                prefix = str(self.g.value(declaration, SH.prefix))
                self.prefixes[prefix] = str(self.g.value(declaration, SH.namespace))


def prologue(shapes: rdflib.Graph) -> str:
    """PREFIX lines for every sh:declare in the shapes graph."""
    declared = {str(shapes.value(d, SH.prefix)): str(shapes.value(d, SH.namespace)) for d in shapes.objects(None, SH.declare)}
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(declared.items()))


def _int(node: rdflib.term.Node) -> int:
    """An integer parameter of a shape (``sh:minCount 1``), read from its text."""
    assert isinstance(node, str)  # every rdflib term (URIRef, BNode, Literal) is a str
    return int(node)


_NODE_KINDS: dict[rdflib.term.Node, str] = {
    SH.IRI: "isIRI({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNode: "isBlank({v})",
    SH.BlankNodeOrIRI: "(isBlank({v}) || isIRI({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
_PREFIX_LINE = re.compile(r"^\s*PREFIX\s+[\w-]*:\s*<[^>]*>\s*$", re.IGNORECASE | re.MULTILINE)


def _with_focus(select: str, extra: str = "") -> str:
    """The select with the focus restriction (and ``extra``) first in its WHERE group, where a
    sub-select is evaluated: a restriction outside it would come too late."""
    brace = select.index("{")
    return select[: brace + 1] + " {focus} " + extra + select[brace + 1 :]


def _strip_prefixes(select: str) -> str:
    return _PREFIX_LINE.sub("", select)


def _n3(term) -> str:
    if isinstance(term, BNode):
        raise UnsupportedShape(f"blank node {term} where an IRI or literal was expected")
    return term.n3()
