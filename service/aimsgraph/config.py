"""Settings: every knob of the service, read from ``AIMSGRAPH_*`` environment variables.

Each field documents its variable and default. Tests build ``Settings(...)`` directly;
the CLI and the WSGI entry point call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aimsgraph.errors import ConfigError


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "aimsgraph"


@dataclass(frozen=True)
class Settings:
    """Service configuration. Environment variable names are ``AIMSGRAPH_`` + field name upper-cased."""

    #: AIMSGRAPH_DATA_DIR: directory of the on-disk store (created on first start).
    data_dir: Path = field(default_factory=_default_data_dir)
    #: AIMSGRAPH_HOST: interface to bind. Loopback by default: exposing it is a deliberate choice.
    host: str = "127.0.0.1"
    #: AIMSGRAPH_PORT: TCP port.
    port: int = 8042
    #: AIMSGRAPH_DEMO: load the demo organisation on the first start of an empty store.
    demo: bool = True
    #: (AIMSGRAPH_TODAY, the default evaluation date, is read by aimsgraph.clock, not kept here:
    #: background refreshes and the CLI need it too.)
    #: AIMSGRAPH_QUERY_TIMEOUT: seconds a SPARQL query may run before it is stopped (HTTP 503).
    query_timeout: float = 30.0
    #: AIMSGRAPH_RESULT_LIMIT: most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) returned by /sparql;
    #: a larger result is cut and the cut announced in headers.
    result_limit: int = 100_000
    #: AIMSGRAPH_MAX_BODY_BYTES: largest request body accepted (HTTP 413 above it).
    max_body_bytes: int = 1_048_576
    #: AIMSGRAPH_MAX_UPLOAD_BYTES: largest RDF or spreadsheet upload (Graph Store Protocol,
    #: /api/import) accepted (HTTP 413 above it).
    max_upload_bytes: int = 64 * 1_048_576
    #: AIMSGRAPH_MAX_QUERY_BYTES: longest SPARQL query or update text accepted (HTTP 413 above
    #: it), checked before anything else reads the text.
    max_query_bytes: int = 262_144
    #: AIMSGRAPH_MAX_NESTING_DEPTH: deepest nesting of brackets in a SPARQL query or update, a
    #: JSON body or a JSON-LD upload (HTTP 400 above it), checked before any parser reads them:
    #: pyoxigraph's parsers recurse with up to 4 KB of stack a level, and a few thousand levels
    #: crash the process.
    max_nesting_depth: int = 256
    #: AIMSGRAPH_ANONYMOUS_EXPENSIVE_PER_MINUTE: expensive requests (validating a posted record,
    #: or the store as of another day) accepted per minute from callers without a token, all
    #: together (HTTP 429 with Retry-After above it).
    anonymous_expensive_per_minute: int = 30
    #: AIMSGRAPH_QUERY_WORKERS: forked reader processes that evaluate queries in parallel.
    query_workers: int = 2
    #: AIMSGRAPH_RESULT_CACHE_BYTES: bytes of /sparql answers kept for the same query asked again
    #: before the next write (dashboards, polling clients, named queries): an answer is reused only
    #: while the store is at the write generation it was read at, and never for a query that
    #: may call SERVICE or uses NOW, RAND, UUID, STRUUID or BNODE, nor for CONSTRUCT templates
    #: with blank nodes, nor with an external store. One answer takes at most an eighth of it;
    #: the least recently used go first. 0 turns the cache off.
    result_cache_bytes: int = 32 * 1_048_576
    #: AIMSGRAPH_SERVICE_ALLOWLIST: space- or comma-separated IRI prefixes that SPARQL SERVICE
    #: and LOAD may reach. Empty (the default) refuses every remote call.
    service_allowlist: tuple[str, ...] = ()
    #: AIMSGRAPH_CORS_ORIGINS: space- or comma-separated origins allowed by CORS, "*" for any.
    cors_origins: tuple[str, ...] = ("*",)
    #: AIMSGRAPH_TOKENS: bearer tokens as space- or comma-separated ``role:name:token`` entries
    #: (role reader, editor or admin; name is who the audit trail records). Never logged.
    tokens: tuple[str, ...] = field(default=(), repr=False)
    #: AIMSGRAPH_TOKEN_FILE: a file of ``role name token`` lines (``#`` starts a comment), read
    #: at start. Without any token, the service is read-only: every write is refused with 401.
    token_file: Path | None = None
    #: AIMSGRAPH_OPEN_READS: queries and reads need no token. Off: every request but
    #: /api/health needs a reader (or higher) token.
    open_reads: bool = True
    #: AIMSGRAPH_MCP_WRITES: ``aimsgraph mcp`` offers its write tools (record_measurements,
    #: sparql_update), each still within the caller's role. Off: it offers read-only tools.
    mcp_writes: bool = False
    #: AIMSGRAPH_MCP_TOKEN: who calls ``aimsgraph mcp --transport stdio`` (one of the configured
    #: tokens; empty: anonymous). Over HTTP each request's bearer token says it. Never logged.
    mcp_token: str = field(default="", repr=False)
    #: AIMSGRAPH_VALIDATION_GATE: refuse (HTTP 422) a write that adds SHACL Violations to the
    #: focus nodes it touches.
    validation_gate: bool = False
    #: AIMSGRAPH_REMOTE_QUERY_URL and AIMSGRAPH_REMOTE_UPDATE_URL: the SPARQL 1.1 query and
    #: update endpoints of an external store to use instead of the embedded one (both or
    #: neither; its default graph must be the union of its named graphs). The service then
    #: keeps no state of its own, and several instances can share the store.
    remote_query_url: str = ""
    remote_update_url: str = ""
    #: AIMSGRAPH_REMOTE_AUTHORIZATION: the Authorization header value sent to the external
    #: store (for example "Basic dXNlcjpwYXNz"). Never logged.
    remote_authorization: str = field(default="", repr=False)
    #: AIMSGRAPH_SECRET_KEY: signs the session cookie of a web token login. Empty (the default):
    #: a random key per process, so logins end when the service restarts.
    secret_key: str = field(default="", repr=False)
    #: AIMSGRAPH_OIDC_ISSUER: the issuer URL of an OpenID Connect provider (Keycloak, Entra ID,
    #: Okta ...), exactly as its discovery document names it; set, the login page offers "Sign in
    #: with <provider>" (docs/sso.md). https, or http on loopback only. The provider's discovery
    #: document (<issuer>/.well-known/openid-configuration) and keys are fetched at the first
    #: sign-in, not at start, so the service starts while the provider is down. The AIMSGRAPH_OIDC_*
    #: settings are checked when the service starts (aimsgraph.http.oidc.OidcConfig).
    oidc_issuer: str = ""
    #: AIMSGRAPH_OIDC_CLIENT_ID: the client id aimsgraph is registered under at the provider.
    oidc_client_id: str = ""
    #: AIMSGRAPH_OIDC_CLIENT_SECRET or AIMSGRAPH_OIDC_CLIENT_SECRET_FILE (a file holding it): the
    #: client secret, one of the two. Never logged.
    oidc_client_secret: str = field(default="", repr=False)
    oidc_client_secret_file: Path | None = None
    #: AIMSGRAPH_OIDC_SCOPES: the scopes asked for, space or comma separated; openid among them.
    oidc_scopes: tuple[str, ...] = ("openid", "profile", "email")
    #: AIMSGRAPH_OIDC_ROLE_CLAIM: the ID token claim that names the user's groups or roles (a
    #: string or a list of strings); a dotted path such as realm_access.roles reaches into objects.
    oidc_role_claim: str = "groups"
    #: AIMSGRAPH_OIDC_ROLE_MAP: comma-separated value=role entries from the role claim's values to
    #: aimsgraph's roles (reader, editor, admin), e.g. "aims-admins=admin,aims-editors=editor";
    #: the highest role a user's values map to wins. "*=reader" lets everyone the provider signs in
    #: read; without a "*" entry, a user none of whose values is mapped is refused (403).
    oidc_role_map: str = ""
    #: AIMSGRAPH_OIDC_SESSION_LIFETIME: seconds a single sign-on lasts before the user signs in
    #: again (and the role is mapped again from the provider's claims).
    oidc_session_lifetime: int = 8 * 3600
    #: AIMSGRAPH_OIDC_PROVIDER_NAME: the name on the sign-in button; the issuer's host by default.
    oidc_provider_name: str = ""
    #: AIMSGRAPH_OIDC_BASE_URL: the service's address as browsers reach it (https://aims.example.com
    #: behind a TLS proxy): the provider sends users back to <base>/login/oidc/callback and, after
    #: logout, to <base>/. Empty: the address of the request.
    oidc_base_url: str = ""

    # -- notifications (docs/notifications.md): nothing is kept or sent unless a webhook URL or
    # an SMTP host is set --
    #: AIMSGRAPH_WEBHOOK_URLS: space- or comma-separated http(s) URLs that every notification is
    #: POSTed to as signed JSON. Only these: nothing a request says chooses where they go.
    webhook_urls: tuple[str, ...] = field(default=(), repr=False)
    #: AIMSGRAPH_WEBHOOK_SECRET or AIMSGRAPH_WEBHOOK_SECRET_FILE (a file holding it, read at
    #: start): the shared secret of the HMAC-SHA256 signature. Required with webhook URLs. Never logged.
    webhook_secret: str = field(default="", repr=False)
    webhook_secret_file: Path | None = None
    #: AIMSGRAPH_SMTP_HOST and AIMSGRAPH_SMTP_PORT: the mail server notifications are emailed
    #: through (none: no email). AIMSGRAPH_SMTP_FROM: the sender address (required with a host).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = ""
    #: AIMSGRAPH_SMTP_STARTTLS: upgrade the connection with STARTTLS before logging in.
    smtp_starttls: bool = True
    #: AIMSGRAPH_SMTP_USER and AIMSGRAPH_SMTP_PASSWORD: log in to the mail server (optional). Never logged.
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    #: AIMSGRAPH_NOTIFY_EMAILS: space- or comma-separated addresses that get a notification whose
    #: record names no owner with an email address (foaf:mbox).
    notify_emails: tuple[str, ...] = ()
    #: AIMSGRAPH_NOTIFY_MAX_ATTEMPTS: sends of one notification to one destination before it is
    #: marked failed.
    notify_max_attempts: int = 8
    #: AIMSGRAPH_NOTIFY_BACKOFF_SECONDS and AIMSGRAPH_NOTIFY_BACKOFF_MAX_SECONDS: the wait after
    #: the first failed send, doubled after each further one, up to the maximum.
    notify_backoff_seconds: float = 30.0
    notify_backoff_max_seconds: float = 3600.0
    #: AIMSGRAPH_NOTIFY_TIMEOUT: seconds one send (a webhook POST, an SMTP session) may take.
    notify_timeout: float = 10.0
    #: AIMSGRAPH_NOTIFY_KEEP_DAYS: days a sent (or failed) notification stays in the outbox graph.
    notify_keep_days: int = 90
    #: AIMSGRAPH_PUBLIC_URL: the service's address as people reach it, for the links in
    #: notifications (default: http://HOST:PORT).
    public_url: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from the environment; ``overrides`` (e.g. CLI options) win when not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}  # field name -> value of that field's type (see _parse)
        for f in fields(cls):
            raw = env.get(f"AIMSGRAPH_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).checked()

    def checked(self) -> Settings:
        """Return self after checking value ranges; raises ConfigError naming the bad setting."""
        if not 0 < self.port < 65536:
            raise ConfigError(f"AIMSGRAPH_PORT must be 1-65535, got {self.port}")
        for name in (
            "query_timeout",
            "result_limit",
            "max_body_bytes",
            "max_upload_bytes",
            "max_query_bytes",
            "max_nesting_depth",
            "anonymous_expensive_per_minute",
            "query_workers",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"AIMSGRAPH_{name.upper()} must be positive, got {getattr(self, name)}")
        if self.result_cache_bytes < 0:
            raise ConfigError(f"AIMSGRAPH_RESULT_CACHE_BYTES must be 0 (off) or more, got {self.result_cache_bytes}")
        if bool(self.remote_query_url) != bool(self.remote_update_url):
            raise ConfigError("set both AIMSGRAPH_REMOTE_QUERY_URL and AIMSGRAPH_REMOTE_UPDATE_URL, or neither")
        for name in ("remote_query_url", "remote_update_url"):
            value = getattr(self, name)
            if value and not value.startswith(("http://", "https://")):
                raise ConfigError(f"AIMSGRAPH_{name.upper()} must be an http(s) URL, got {value!r}")
        if self.remote_query_url and self.validation_gate:
            raise ConfigError(
                "AIMSGRAPH_VALIDATION_GATE needs the embedded store: with an external store a write "
                "reaches the store only when it is complete, so the gate could not see it first"
            )
        _check_notifications(self)
        token_file = Path(self.token_file).expanduser() if self.token_file else None
        return replace(self, data_dir=Path(self.data_dir), token_file=token_file)


def _check_notifications(settings: Settings) -> None:
    """ConfigError naming the notification setting that cannot work (docs/notifications.md)."""
    for url in settings.webhook_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"AIMSGRAPH_WEBHOOK_URLS must hold http(s) URLs, got one with {parts.scheme or 'no'} scheme")
    if settings.webhook_urls and not (settings.webhook_secret or settings.webhook_secret_file):
        raise ConfigError("AIMSGRAPH_WEBHOOK_URLS needs AIMSGRAPH_WEBHOOK_SECRET or AIMSGRAPH_WEBHOOK_SECRET_FILE to sign with")
    if settings.smtp_host and "@" not in settings.smtp_from:
        raise ConfigError("AIMSGRAPH_SMTP_HOST needs AIMSGRAPH_SMTP_FROM, the sender's address")
    if not 0 < settings.smtp_port < 65536:
        raise ConfigError(f"AIMSGRAPH_SMTP_PORT must be 1-65535, got {settings.smtp_port}")
    if settings.smtp_password and not settings.smtp_user:
        raise ConfigError("AIMSGRAPH_SMTP_PASSWORD needs AIMSGRAPH_SMTP_USER")
    if bad := [address for address in settings.notify_emails if "@" not in address]:
        raise ConfigError(f"AIMSGRAPH_NOTIFY_EMAILS must hold email addresses, got {bad[0]!r}")
    for name in ("notify_max_attempts", "notify_backoff_seconds", "notify_timeout", "notify_keep_days"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"AIMSGRAPH_{name.upper()} must be positive, got {getattr(settings, name)}")
    if settings.notify_backoff_max_seconds < settings.notify_backoff_seconds:
        raise ConfigError("AIMSGRAPH_NOTIFY_BACKOFF_MAX_SECONDS must be at least AIMSGRAPH_NOTIFY_BACKOFF_SECONDS")
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"AIMSGRAPH_PUBLIC_URL must be an http(s) URL, got {settings.public_url!r}")


def _parse(name: str, type_name: object, raw: str) -> object:
    kind = str(type_name)
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("Path"):
            return Path(raw).expanduser()
        if kind.startswith("tuple"):
            return tuple(part for part in raw.replace(",", " ").split() if part)
        return raw
    except ValueError:
        raise ConfigError(f"AIMSGRAPH_{name.upper()}: cannot read {raw!r} as {kind}") from None
