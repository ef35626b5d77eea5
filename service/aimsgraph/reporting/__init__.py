"""Reporting: what people read.

Owns ``reports`` (validation reports and readiness), ``overview`` (the pages' data: dashboard,
lists, pages of long lists), ``charts`` (SVG heat maps and pictures), ``review_pack`` (the
management review input), ``auditor_report`` (one self-contained HTML file), ``tasks`` (the
work list: tasks and "My work"), ``sarif`` (findings as SARIF 2.1.0 and GitHub workflow
commands), and the Jinja templates in ``templates/`` that the web pages
share with the reports.

May import: the base modules, ``aimsgraph.store``, ``aimsgraph.semantics``, ``aimsgraph.risk``
and ``aimsgraph.records``. Never Flask: reports are also written by the command line.
"""
