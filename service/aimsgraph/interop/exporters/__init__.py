"""Exporters: the record written in other vocabularies for other tools to ingest.

``dcat`` writes the AI system register as a DCAT 3 catalogue with PROV provenance, checked by
the shapes in ``shapes/export/dcat.ttl``.
"""
