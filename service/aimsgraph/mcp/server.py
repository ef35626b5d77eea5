"""The MCP server of ``aimsgraph mcp``, built with the official ``mcp`` SDK (``MCPServer``).

Tools (``tools``): sparql_query, impact, what_if, validate, explain_risk, due_items and
readiness, read-only; with AIMSGRAPH_MCP_WRITES on, also record_measurements and sparql_update,
within the caller's role. Each answers with a one-line summary and the JSON data (as text and
as structured content); a bad argument or a refusal is a tool error whose message names the
problem. Resources: the ontology and the shapes (Turtle) and the named queries (SPARQL), read
from the files the service loads.

Who calls: over streamable HTTP, the ``Authorization: Bearer`` token of each request, resolved
by the token registry the REST API uses (:class:`BearerTokens` wraps the SDK's ASGI app): an
unknown token is refused with 401, no token is an anonymous caller, refused too when
AIMSGRAPH_OPEN_READS is off. A session is bound to the token that opened it (the SDK compares
the ``user`` this middleware sets). Over stdio, the caller is the token in AIMSGRAPH_MCP_TOKEN,
checked once, before the store is opened.

Imported only by the ``mcp`` command: the SDK and its web stack load only there.
"""

import json
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import FileResource
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field
from starlette.authentication import AuthCredentials
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aimsgraph import __version__, resources
from aimsgraph.auth import Principal, TokenRegistry, require
from aimsgraph.config import Settings
from aimsgraph.errors import AimsgraphError, Unauthorized
from aimsgraph.mcp import tools
from aimsgraph.mcp.service import Runtime, may_read
from aimsgraph.namespaces import AIMS
from aimsgraph.records import queries

#: Where :class:`BearerTokens` leaves the caller in the ASGI scope, for the tools to find.
PRINCIPAL = "aimsgraph.principal"
#: The path of the streamable HTTP endpoint.
HTTP_PATH = "/mcp"

INSTRUCTIONS = (
    "aimsgraph holds an organisation's ISO/IEC 42001 AI management system as an RDF knowledge graph: "
    "AI systems, models, datasets, suppliers, risks, controls, evidence and their dependencies. "
    "Read the ontology and the named queries (resources) before writing SPARQL, and declare the prefixes "
    f"a query uses as the named queries do (aims: is <{AIMS}>). impact and what_if answer 'what moves if "
    "this changes', explain_risk 'why is this at risk', validate the open findings, due_items the review "
    "calendar, readiness the state of ISO/IEC 42001, the NIST AI RMF and the EU AI Act."
)

READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

IRI = Annotated[str, Field(description="An absolute IRI of the record, e.g. one a sparql_query answered with")]
AS_OF = Annotated[str | None, Field(description="Evaluation date YYYY-MM-DD; today when not given")]
LIMIT = Annotated[int, Field(description=f"Most items listed (1 to {tools.MAX_ITEMS}); totals count them all")]
CHANGE = Annotated[str, Field(description=f"The kind of change: {', '.join(tools.impacts.CHANGE_KINDS)}")]


def build(service: Runtime, stdio_caller: Principal | None = None) -> MCPServer:
    """The MCP server over ``service``: the read tools, the write tools when configured, and
    the resources. ``stdio_caller``: who calls when a call comes with no HTTP request (stdio)."""
    server: MCPServer = MCPServer(
        "aimsgraph", title="aimsgraph", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    def caller(ctx: Context) -> Principal | None:
        request = ctx.request_context.request
        return stdio_caller if request is None else request.scope.get(PRINCIPAL)

    _read_tools(server, service, caller)
    if service.settings.mcp_writes:
        _write_tools(server, service, caller)
    _resources(server)
    return server


def _read_tools(server: MCPServer, service: Runtime, caller: Callable[[Context], Principal | None]) -> None:
    @server.tool(annotations=READS)
    def sparql_query(
        query: Annotated[str, Field(description="A SPARQL 1.1 SELECT, ASK, CONSTRUCT or DESCRIBE query")],
        ctx: Context,
        limit: Annotated[int, Field(description="Most rows or triples returned (up to AIMSGRAPH_RESULT_LIMIT)")] = 100,
    ) -> CallToolResult:
        """Run a read-only SPARQL query over the whole record (the default graph is the union of all
        named graphs), with the service's timeout, result cap and SERVICE allow-list. SELECT answers
        rows of {variable: value}; CONSTRUCT and DESCRIBE answer Turtle. Updates are refused."""
        return _call(tools.sparql_query, service, caller(ctx), query, limit)

    @server.tool(annotations=READS)
    def impact(node: IRI, ctx: Context, change: CHANGE = "modify") -> CallToolResult:
        """Impact analysis before changing an asset (AI system, model, dataset, infrastructure
        service or supplier): every dependent asset with its path, and the risks to re-assess,
        assessments to redo, controls to re-test, stale evidence, stakeholders to inform and SoA
        rows touched (ISO/IEC 42001 6.3, 8.2-8.4). Reads only."""
        return _call(tools.impact, service, caller(ctx), node, change)

    @server.tool(annotations=READS)
    def what_if(
        node: IRI,
        modifications: Annotated[
            list[dict[str, Any]],
            Field(
                description="Proposed modifications, each an object with an op: add-dependency (dependent, dependency, "
                "type?, coupling?, critical?), remove-dependency (dependent, dependency), set-likelihood / set-severity "
                "(risk, level), remove-control (control), remove-asset (asset); values are IRIs"
            ),
        ],
        ctx: Context,
        change: CHANGE = "modify",
    ) -> CallToolResult:
        """The impact analysis of a change together with proposed modifications, evaluated on a copy
        of the risk model: each affected asset's exposure and each risk's score before and after.
        The record is never written."""
        return _call(tools.what_if, service, caller(ctx), node, change, modifications)

    @server.tool(annotations=READS)
    def explain_risk(node: IRI, ctx: Context, limit: LIMIT = 20) -> CallToolResult:
        """Why an asset is at risk: the risks it inherits through its dependencies, strongest first,
        with the explanation paths from the asset back to each source (and its own risks). Given a
        risk instead: its scores and every asset it reaches, with the paths."""
        return _call(tools.explain_risk, service, caller(ctx), node, limit)

    @server.tool(annotations=READS)
    def validate(
        ctx: Context,
        as_of: AS_OF = None,
        severity: Annotated[str | None, Field(description="Only findings of this severity: Violation, Warning or Info")] = None,
        system: Annotated[str | None, Field(description="Only findings on the record of this AI system (IRI)")] = None,
        limit: LIMIT = tools.DEFAULT_ITEMS,
    ) -> CallToolResult:
        """The findings of the completeness checks (SHACL shapes citing ISO/IEC 42001 clauses and
        Annex A controls) as of a day, most severe first, with readiness per clause and per AI
        system. Today's are the stored findings."""
        return _call(tools.validate, service, caller(ctx), as_of, severity, system, limit)

    @server.tool(annotations=READS)
    def due_items(
        ctx: Context,
        within: Annotated[str, Field(description="Window after the day: 30d, 2w, 12m, 1y or all")] = "30d",
        as_of: AS_OF = None,
        limit: LIMIT = tools.DEFAULT_ITEMS,
    ) -> CallToolResult:
        """The review calendar: reviews, corrective actions, expiring evidence and training, audits,
        management reviews and metric measurements due in the window, overdue ones included."""
        return _call(tools.due_items, service, caller(ctx), within, as_of, limit)

    @server.tool(annotations=READS)
    def readiness(
        ctx: Context,
        framework: Annotated[str | None, Field(description="Only this framework: iso42001, nist-ai-rmf or eu-ai-act")] = None,
        as_of: AS_OF = None,
        all_requirements: Annotated[bool, Field(description="List met requirements too")] = False,
        limit: LIMIT = tools.DEFAULT_ITEMS,
    ) -> CallToolResult:
        """Readiness of ISO/IEC 42001, the NIST AI RMF and the EU AI Act side by side: each
        framework's counts and its requirements not met, each with the checks that decided it."""
        return _call(tools.readiness, service, caller(ctx), framework, as_of, all_requirements, limit)


def _write_tools(server: MCPServer, service: Runtime, caller: Callable[[Context], Principal | None]) -> None:
    @server.tool(annotations=WRITES)
    def record_measurements(
        measurements: Annotated[
            list[dict[str, Any]],
            Field(
                description='Measurements, each {"metric": IRI, "value": number, "measuredAt": ISO 8601 date-time, '
                '"id"?: string, "note"?: string}'
            ),
        ],
        ctx: Context,
    ) -> CallToolResult:
        """Record measurements of metrics (ISO/IEC 42001 9.1), as one change in the audit trail: a
        breach of a metric's threshold is flagged and raised as a nonconformity. Needs a token with
        the editor role. Sending the same measurements again changes nothing."""
        return _call(tools.record_measurements, service, caller(ctx), measurements)

    @server.tool(annotations=WRITES)
    def sparql_update(
        update: Annotated[str, Field(description="A SPARQL 1.1 Update (INSERT DATA, DELETE/INSERT WHERE ...)")],
        ctx: Context,
    ) -> CallToolResult:
        """Apply a SPARQL 1.1 Update as one change in the audit trail. Needs a token with the editor
        role (admin for the reference graphs); the graphs aimsgraph derives are written by nobody."""
        return _call(tools.sparql_update, service, caller(ctx), update)


def _call(tool: Callable[..., tools.Answer], *args: Any) -> CallToolResult:
    """Run a tool; its answer as a summary and JSON, or a tool error naming the problem."""
    try:
        answer = tool(*args)
    except AimsgraphError as exc:
        raise ToolError(exc.message) from None
    return CallToolResult(
        content=[
            TextContent(type="text", text=answer.summary),
            TextContent(type="text", text=json.dumps(answer.data, ensure_ascii=False)),
        ],
        structured_content=answer.data,
    )


def _resources(server: MCPServer) -> None:
    """The ontology modules, the shapes and the named queries, one resource per file."""
    for path in resources.ontology_files():
        server.add_resource(
            FileResource(
                uri=f"aimsgraph://ontology/{path.name}", path=path, name=f"ontology/{path.name}", mime_type="text/turtle"
            )
        )
    for path in sorted(resources.path("shapes").glob("*.ttl")):
        server.add_resource(
            FileResource(
                uri=f"aimsgraph://shapes/{path.name}",
                path=path,
                name=f"shapes/{path.name}",
                mime_type="text/turtle",
                encoding="utf-8",
            )
        )
    for name, query in queries.load_all().items():
        server.add_resource(
            FileResource(
                uri=f"aimsgraph://queries/{name}.rq",
                path=resources.path("queries", f"{name}.rq"),
                name=f"queries/{name}.rq",
                description=query.summary,
                mime_type="application/sparql-query",
                encoding="utf-8",
            )
        )


class BearerTokens:
    """ASGI middleware before the SDK's streamable HTTP app: who calls, by the token registry
    of the REST API. 401 for an unknown or malformed token, and for no token while reads need
    one (AIMSGRAPH_OPEN_READS off); otherwise the caller (None: anonymous) goes into the scope."""

    def __init__(self, app: ASGIApp, service: Runtime) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"authorization"), None)
        try:
            principal = self.service.tokens.principal(header)
            may_read(self.service, principal)
        except Unauthorized as exc:
            refusal = JSONResponse(
                {"error": "invalid_token", "error_description": exc.message},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="aimsgraph"'},
            )
            await refusal(scope, receive, send)
            return
        scope = {**scope, PRINCIPAL: principal}
        if principal is not None:
            # the SDK binds a session to the user that opened it: another token cannot use it
            token = AccessToken(token="-", client_id=f"{principal.role}:{principal.name}", scopes=[principal.role])
            scope.update(user=AuthenticatedUser(token), auth=AuthCredentials([principal.role]))
        await self.app(scope, receive, send)


def stdio_caller(settings: Settings) -> Principal | None:
    """The caller of a stdio server: the token in AIMSGRAPH_MCP_TOKEN (Unauthorized when the
    registry does not know it), else anonymous; Unauthorized when reads then need a token.
    Asked before the store is opened: a wrong token stops the command at once."""
    tokens = TokenRegistry.from_settings(settings)
    token = settings.mcp_token.strip()
    principal = tokens.principal(f"Bearer {token}") if token else None
    if not settings.open_reads:
        require(principal, "reader", "reading (AIMSGRAPH_OPEN_READS is off: set AIMSGRAPH_MCP_TOKEN)", tokens)
    return principal


def run_stdio(service: Runtime, caller: Principal | None) -> None:
    """Serve one client over standard input and output until it closes them."""
    anyio.run(build(service, caller).run_stdio_async)


def run_http(service: Runtime, host: str, port: int) -> None:
    """Serve streamable HTTP at ``http://host:port/mcp`` until interrupted (SIGINT, SIGTERM)."""
    import uvicorn

    # bodies capped as the REST API caps them (AIMSGRAPH_MAX_BODY_BYTES, 413 above), not at the SDK's 4 MiB
    limit = service.settings.max_body_bytes
    mcp_app = build(service).streamable_http_app(streamable_http_path=HTTP_PATH, host=host, max_request_body_size=limit)
    app = BearerTokens(mcp_app, service)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    anyio.run(server.serve)


def http_url(host: str, port: int) -> str:
    """The endpoint's URL, as a client on this machine reaches it."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}{HTTP_PATH}"
