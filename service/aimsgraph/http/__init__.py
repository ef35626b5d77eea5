"""HTTP: the Flask application and everything that speaks HTTP.

Owns ``app`` (the application factory), ``protocol`` (the SPARQL 1.1 Protocol endpoints),
``graph_store`` (the Graph Store Protocol), ``negotiation`` (content negotiation), ``api/`` (the
REST blueprints), ``web/`` (the pages, their forms and static assets) and ``oidc`` (single
sign-on with OpenID Connect).

May import: every other layer. Nothing below imports it; Flask is imported only here.
"""
