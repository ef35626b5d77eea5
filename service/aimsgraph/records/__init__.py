"""Records: the management system's own record and its one write path.

Owns ``operations`` (payloads of the REST writes turned into deltas), ``agenda`` (what is due),
``soa`` (the Statement of Applicability), ``queries`` (the named SPARQL queries in queries/) and
``refresh`` (bringing the derived graphs up to date after a write).

May import: the base modules, ``aimsgraph.store``, ``aimsgraph.semantics`` and ``aimsgraph.risk``.
"""
