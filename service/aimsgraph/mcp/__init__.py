"""MCP: aimsgraph for AI assistants, over the Model Context Protocol (``aimsgraph mcp``).

Owns ``service`` (the store, query readers, tokens and refresher this front end holds, and the
write path of its write tools), ``tools`` (what each tool answers: SPARQL queries, impact and
what-if, findings, the "why" of a risk, due items, readiness, and the opt-in writes) and
``server`` (the MCP server of the official ``mcp`` SDK: tools, resources, bearer tokens, the
stdio and streamable HTTP transports). docs/mcp.md describes it for users.

A front end beside ``http``, not on top of it: may import every layer below ``http``, never
``http`` itself nor Flask. The ``mcp`` SDK is imported only by ``server``, and only when the
command runs, so ``aimsgraph --help`` and the web service do not load it.
"""
