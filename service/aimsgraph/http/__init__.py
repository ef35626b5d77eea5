"""HTTP: the Flask application and everything that speaks HTTP.

Owns ``app`` (the application factory), ``protocol`` (the SPARQL 1.1 Protocol endpoints),
``graph_store`` (the Graph Store Protocol), ``negotiation`` (content negotiation), ``api/`` (the
REST blueprints) and ``web/`` (the pages and their static assets).

May import: every other layer. Nothing below imports it; Flask is imported only here.
"""
