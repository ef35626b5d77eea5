"""SPARQL 1.1 Protocol: the /sparql endpoint, content negotiation, result formats, guards."""
