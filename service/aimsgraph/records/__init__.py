"""Records: the management system's own record and its one write path.

Owns ``payloads`` (JSON bodies as pydantic models: one error format, one date-time type),
``operations`` (the REST writes' payloads turned into deltas), ``agenda`` (what is due),
``soa`` (the Statement of Applicability), ``queries`` (the named SPARQL queries in queries/) and
``refresh`` (bringing the derived graphs up to date after a write), ``files`` (a record kept as
files, validated in a store of its own) and ``positions`` (where things are written in them).

May import: the base modules, ``aimsgraph.store``, ``aimsgraph.semantics`` and ``aimsgraph.risk``,
and the CSV sheet reader ``aimsgraph.interop.importers.spreadsheet``, a leaf (base modules only).
"""
