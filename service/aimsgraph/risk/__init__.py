"""Risk: scoring, propagation along dependencies, the risk model and impact analysis.

Owns ``scoring`` (inherent and residual levels), ``propagation`` (risk inherited across
dependent assets), ``analysis`` (the risk model and the analysis graph) and ``impact`` (what a
change to a node affects).

May import: the base modules, ``aimsgraph.store`` and ``aimsgraph.semantics``.
"""
