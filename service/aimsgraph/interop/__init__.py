"""Interoperability: records written by others in, our register out.

Owns ``importers`` (RDF in AIRO, DPV and VAIR terms, MITRE ATLAS, DCAT catalogues, OpenLineage
events, spreadsheets) and ``exporters`` (the DCAT 3 + PROV-O register).

May import: the base modules, ``aimsgraph.store``, ``aimsgraph.semantics``, ``aimsgraph.risk``,
``aimsgraph.records`` and ``aimsgraph.reporting``.
"""
