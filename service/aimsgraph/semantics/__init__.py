"""Semantics: what the record means and whether it is complete.

Owns reasoning (the OWL 2 RL engine and its owlrl reference), validation (the completeness
shapes, compiled to SPARQL by ``shacl_sparql``, and the stored findings).

May import: the base modules (``aimsgraph.errors``, ``config``, ``clock``, ``namespaces``,
``resources``, ``limits``, ``auth``) and ``aimsgraph.store``.
"""
