"""SPARQL: running queries and updates safely, without HTTP.

Owns ``executor`` (queries in forked readers with a timeout and a result cap), ``update``
(SPARQL Update as one recorded change), ``guard`` (size, nesting and ``SERVICE``/``LOAD`` checks
on the text; a leaf that imports only base modules, so the store may use it), ``results``
(serialising answers) and ``cache`` (answers kept per store generation).

May import: the base modules, ``aimsgraph.store`` and the layers below ``aimsgraph.http``; never
Flask (``aimsgraph.http.protocol`` serves these over HTTP).
"""
