"""Single sign-on with OpenID Connect: "Sign in with <provider>" on the login page.

Owns the routes ``/login/oidc`` (off to the provider) and ``/login/oidc/callback`` (back from
it), the OIDC settings checked at start (:class:`OidcConfig`), the map from the provider's group
or role claim to aimsgraph's roles, what a signed-in browser session keeps (``session["oidc"]``)
and who it is (:func:`session_principal`), and the provider's logout address
(:func:`end_session_url` and :func:`logged_out`, RP-initiated logout).

Authlib's Flask client speaks the protocol: the authorization code flow with PKCE (S256), state
and nonce. The ID token's signature is checked against the provider's JWKS (asymmetric
algorithms only), and its iss, aud, exp, iat and nonce are checked. Discovery is lazy: the
provider's discovery document and keys are fetched at the first sign-in and kept (the keys again
when a token names an unknown key), so the service starts, and serves tokens and reads, while the
provider is down; a sign-in then answers 502 naming the provider.

A single sign-on is a browser session like a token login: the pages read as it, the forms that
check a CSRF token act in its role, and SPARQL Update, the Graph Store and the API never write
for it (``app._authenticate``). Its name, as the audit trail records it, is ``oidc:<user>``, as a
command's is ``local:<user>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from aimsgraph import clock
from aimsgraph.auth import ROLES, Principal
from aimsgraph.config import Settings
from aimsgraph.errors import AimsgraphError, ConfigError, Forbidden, InvalidInput, NotFound, RemoteServiceError, Unauthorized
from aimsgraph.http import web  # web imports this module too: each uses the other in functions only
from aimsgraph.http.state import state

bp = Blueprint("oidc", __name__)

#: The key of the provider's client in ``app.extensions`` (absent without single sign-on).
EXTENSION = "aimsgraph.oidc"
#: Before a single sign-on's user name, wherever it is recorded.
NAME_PREFIX = "oidc:"
#: Seconds by which the provider's clock and this service's may differ (exp, iat).
LEEWAY = 60
#: Seconds to wait for the provider: discovery, keys, the token endpoint.
PROVIDER_TIMEOUT = 10
#: The ID token signatures accepted. Not "none", and not HS256 and kin: their key is the client
#: secret, which this service holds too.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: The ID token is kept for logout (the provider's id_token_hint) only below this many
#: characters: browsers drop a session cookie over 4 KB, and the user could never sign in.
HINT_LIMIT = 2000
#: Where Authlib keeps a sign-in in progress in the session (the client is named "provider").
PENDING_PREFIX = "_state_provider_"
#: What the reader is told for the JOSE errors whose own description is empty or cryptic.
JOSE_REASONS = {
    "bad_signature": "its signature does not verify with the provider's published keys",
    "invalid_key_id": "it is signed by a key the provider does not publish",
    "expired_token": "it has expired",
    "unsupported_algorithm": f"it is unsigned or signed with an algorithm not accepted (accepted: {', '.join(SIGNING_ALGORITHMS)})",
}


@dataclass(frozen=True)
class OidcConfig:
    """The single sign-on settings, checked (ConfigError names the setting at fault)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    role_claim: str
    role_map: Mapping[str, str]  # a value of the role claim ("*": anyone) -> a role
    session_lifetime: int
    provider_name: str
    base_url: str  # empty: the address of the request

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """The settings of single sign-on; None when AIMSGRAPH_OIDC_ISSUER is not set."""
        if not settings.oidc_issuer:
            stray = [
                n for n in ("client_id", "client_secret", "client_secret_file", "role_map") if getattr(settings, f"oidc_{n}")
            ]
            if stray:
                raise ConfigError(f"AIMSGRAPH_OIDC_{stray[0].upper()} is set but AIMSGRAPH_OIDC_ISSUER is not")
            return None
        issuer = _checked_url(settings.oidc_issuer, "AIMSGRAPH_OIDC_ISSUER", loopback_http_only=True)
        if not settings.oidc_client_id.strip():
            raise ConfigError("AIMSGRAPH_OIDC_ISSUER is set: set AIMSGRAPH_OIDC_CLIENT_ID too")
        if "openid" not in settings.oidc_scopes:
            raise ConfigError(f"AIMSGRAPH_OIDC_SCOPES must include openid, got {' '.join(settings.oidc_scopes)!r}")
        if not settings.oidc_role_claim.strip():
            raise ConfigError("AIMSGRAPH_OIDC_ROLE_CLAIM must name a claim")
        if settings.oidc_session_lifetime <= 0:
            raise ConfigError(f"AIMSGRAPH_OIDC_SESSION_LIFETIME must be positive, got {settings.oidc_session_lifetime}")
        base_url = settings.oidc_base_url and _checked_url(settings.oidc_base_url, "AIMSGRAPH_OIDC_BASE_URL").rstrip("/")
        return cls(
            issuer=issuer,
            client_id=settings.oidc_client_id.strip(),
            client_secret=_client_secret(settings),
            scopes=settings.oidc_scopes,
            role_claim=settings.oidc_role_claim.strip(),
            role_map=parse_role_map(settings.oidc_role_map),
            session_lifetime=settings.oidc_session_lifetime,
            provider_name=settings.oidc_provider_name.strip() or urlsplit(issuer).netloc,
            base_url=base_url,
        )

    def role_of(self, claims: Mapping[str, Any]) -> str | None:
        """The highest role the user's values of the role claim map to; None for no role."""
        granted = [self.role_map[value] for value in claim_values(claims, self.role_claim) if value in self.role_map]
        if "*" in self.role_map:
            granted.append(self.role_map["*"])
        return max(granted, key=ROLES.index, default=None)


def parse_role_map(text: str) -> dict[str, str]:
    """``value=role`` entries, comma separated (a value may hold "=": the last one splits)."""
    entries: dict[str, str] = {}
    for number, entry in enumerate((part.strip() for part in text.split(",")), 1):
        if not entry:
            continue
        value, equals, role = (part.strip() for part in entry.rpartition("="))
        if not equals or not value:
            raise ConfigError(f"AIMSGRAPH_OIDC_ROLE_MAP entry {number} ({entry!r}) is not value=role")
        if role not in ROLES:
            raise ConfigError(f"AIMSGRAPH_OIDC_ROLE_MAP entry {number} ({entry!r}): the role must be one of {', '.join(ROLES)}")
        if entries.get(value, role) != role:
            raise ConfigError(f"AIMSGRAPH_OIDC_ROLE_MAP maps {value!r} to two roles")
        entries[value] = role
    if not entries:
        raise ConfigError(
            "AIMSGRAPH_OIDC_ROLE_MAP is empty: map values of the role claim to roles "
            "(for example aims-editors=editor), or *=reader to let everyone the provider signs in read"
        )
    return entries


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The strings of a claim that holds a string or a list of them. A name with dots that is
    not itself a claim is a path into objects (Keycloak's ``realm_access.roles``)."""
    value: Any = claims.get(name)
    if name not in claims:
        value = claims
        for step in name.split("."):
            value = value.get(step) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def session_principal(kept: object) -> Principal | None:
    """Who a single sign-on session (``session["oidc"]``) is, with its mapped role; None once it
    has expired, or when single sign-on is no longer configured."""
    if current_app.extensions.get(EXTENSION) is None or not isinstance(kept, dict):
        return None
    name, role, expires = kept.get("name"), kept.get("role"), kept.get("expires")
    if not isinstance(name, str) or role not in ROLES or not isinstance(expires, int | float):
        return None
    if expires <= clock.now().timestamp():
        return None
    return Principal(NAME_PREFIX + name, role)


def configured() -> bool:
    """Whether the service offers single sign-on."""
    return current_app.extensions.get(EXTENSION) is not None


def logged_out(kept: object) -> Response | None:
    """After a single sign-on session ended here (``kept`` was its ``session["oidc"]``), the page
    that sends the browser on to the provider's logout, to end it there too; None for a token
    login, or when the provider offers no logout. A page, not a redirect: the logout form's
    answer may not redirect to another site under the pages' policy (form-action 'self'), while
    the page's refresh and link may go there."""
    leave_to = end_session_url(kept)
    if leave_to is None:
        return None
    g.principal = g.session_principal = None  # signed out already, for this page too
    page = render_template("login.html", next=url_for("web.dashboard"), error=None, provider_logout=leave_to)
    return Response(page, content_type="text/html; charset=utf-8")


def end_session_url(kept: object) -> str | None:
    """Where the browser goes after a single sign-on session ended here, to end it at the provider
    too: the provider's end_session_endpoint with id_token_hint and post_logout_redirect_uri. None
    for a token login, or when the provider offers no such endpoint or cannot be reached (the
    session here ends all the same)."""
    provider: _Provider | None = current_app.extensions.get(EXTENSION)
    if provider is None or not isinstance(kept, dict):
        return None
    try:
        metadata = _metadata(provider)
    except RemoteServiceError:
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    hint = kept.get("id_token") if isinstance(kept.get("id_token"), str) else None
    ending = provider.client.create_logout_url(
        post_logout_redirect_uri=_base_url(provider.config) + "/", id_token_hint=hint, client_id=provider.config.client_id
    )
    return ending["url"]


@dataclass
class _Provider:
    config: OidcConfig
    client: Any  # Authlib's FlaskOAuth2App (Authlib ships no type information)


@bp.record_once
def _set_up(setup: BlueprintSetupState) -> None:
    """Check the settings as the service starts, and make the provider's client: nothing is
    fetched from the provider yet."""
    app = setup.app
    assert isinstance(app, Flask)  # Flask's blueprints are set up on a Flask app
    config = OidcConfig.from_settings(state(app).settings)
    if config is None:
        return
    from authlib.integrations.flask_client import OAuth  # here: 0.2 s of imports a start without single sign-on skips

    client = OAuth(app).register(
        "provider",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": " ".join(config.scopes), "code_challenge_method": "S256", "default_timeout": PROVIDER_TIMEOUT},
    )
    app.extensions[EXTENSION] = _Provider(config, client)


@bp.app_context_processor
def _login_button() -> dict[str, Any]:
    """The name on the login page's "Sign in with ..." link; None without single sign-on."""
    provider: _Provider | None = current_app.extensions.get(EXTENSION)
    return {"oidc_provider": provider.config.provider_name if provider else None}


@bp.get("/login/oidc")
def login() -> BaseResponse:
    """Off to the provider's sign-in, to come back to ``next`` (a path of this site)."""
    provider = _provider()
    target = web._safe_next(request.args.get("next"))
    # One sign-in at a time per browser: each one started keeps its state, PKCE verifier and
    # nonce in the session cookie for an hour, and a cookie past 4 KB is dropped.
    for key in [key for key in session if key.startswith(PENDING_PREFIX)]:
        session.pop(key)
    try:
        _metadata(provider)
        with _talking_to(provider):
            response = provider.client.authorize_redirect(_base_url(provider.config) + url_for("oidc.callback"))
    except AimsgraphError as error:
        return _refused(provider, error, target)
    session["oidc_next"] = target
    return response


@bp.get("/login/oidc/callback")
def callback() -> BaseResponse:
    """Back from the provider: the code exchanged, the ID token verified, the role mapped; the
    session then starts afresh as this user."""
    provider = _provider()
    target = web._safe_next(session.get("oidc_next"))
    try:
        claims, id_token = _verified_claims(provider)
        name = _user_name(claims)
        role = _granted_role(provider.config, claims, name)
    except AimsgraphError as error:
        return _refused(provider, error, target)
    session.clear()  # nothing of an earlier login, nor of the sign-in's own state, carries over
    session["oidc"] = {
        "name": name,
        "role": role,
        "expires": int(clock.now().timestamp()) + provider.config.session_lifetime,
        "id_token": id_token if len(id_token) < HINT_LIMIT else None,
    }
    return redirect(target)


def _provider() -> _Provider:
    provider: _Provider | None = current_app.extensions.get(EXTENSION)
    if provider is None:
        raise NotFound("single sign-on is not configured here (AIMSGRAPH_OIDC_ISSUER)")
    return provider


def _metadata(provider: _Provider) -> dict[str, Any]:
    """The provider's discovery document, fetched at its first use and kept; RemoteServiceError
    (502) while the provider cannot be reached, or when it names another issuer (fetched again
    at the next sign-in)."""
    client = provider.client
    with _talking_to(provider):
        metadata: dict[str, Any] = client.load_server_metadata()
    if metadata.get("issuer") != provider.config.issuer:
        client.server_metadata.clear()
        raise RemoteServiceError(
            f"the discovery document of {provider.config.issuer} names the issuer {metadata.get('issuer')!r}: "
            "AIMSGRAPH_OIDC_ISSUER must be that exact value"
        )
    # Authlib checks ID token signatures with the algorithms the provider announces: keep only ours.
    announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [a for a in announced if a in SIGNING_ALGORITHMS]
    return metadata


@contextmanager
def _talking_to(provider: _Provider) -> Iterator[None]:
    """The provider's failures to answer as RemoteServiceError (502), naming it."""
    import requests  # here, as authlib is: only a service with single sign-on talks to a provider

    try:
        yield
    except (requests.RequestException, ValueError, TypeError, RuntimeError) as exc:
        reason = type(exc).__name__ if isinstance(exc, requests.ConnectionError | requests.Timeout) else str(exc)
        raise RemoteServiceError(f"the OpenID provider {provider.config.issuer} cannot be used: {reason}") from None


def _verified_claims(provider: _Provider) -> tuple[dict[str, Any], str]:
    """The claims of the ID token the provider gave for this callback's code, and the token."""
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from joserfc.errors import JoseError

    config = provider.config
    _metadata(provider)
    # Authlib checks iss only when no options are given, and aud only through azp: both, explicitly.
    options = {"iss": {"essential": True, "value": config.issuer}, "aud": {"essential": True, "value": config.client_id}}
    try:
        with _talking_to(provider):
            token = provider.client.authorize_access_token(claims_options=options, leeway=LEEWAY)
    except MismatchingStateError:
        raise InvalidInput("this sign-in was not started in this browser, or it was already used: sign in again") from None
    except OAuthError as exc:
        if exc.error == "access_denied":
            raise Forbidden(f"{config.provider_name} did not sign you in ({exc.description or exc.error})") from None
        raise Unauthorized(f"{config.provider_name} refused the sign-in ({exc.error}: {exc.description})") from None
    except JoseError as exc:
        reason = JOSE_REASONS.get(exc.error) or exc.description or exc.error
        raise Unauthorized(f"the ID token from {config.provider_name} was refused: {reason}") from None
    if not token.get("userinfo"):
        raise Unauthorized(f"{config.provider_name} sent no ID token (is openid among AIMSGRAPH_OIDC_SCOPES?)")
    return dict(token["userinfo"]), token["id_token"]


def _granted_role(config: OidcConfig, claims: Mapping[str, Any], name: str) -> str:
    """The user's role here; Forbidden (403) when none of their values is mapped to one."""
    role = config.role_of(claims)
    if role is None:
        values = ", ".join(claim_values(claims, config.role_claim)) or "none"
        raise Forbidden(
            f"{name} has no role in aimsgraph: no value of the {config.role_claim} claim ({values}) "
            "is mapped to one (AIMSGRAPH_OIDC_ROLE_MAP)"
        )
    return role


def _user_name(claims: Mapping[str, Any]) -> str:
    """The name the pages show and the audit trail records (after ``oidc:``)."""
    for claim in ("preferred_username", "email", "sub"):
        if isinstance(claims.get(claim), str) and claims[claim].strip():
            return claims[claim].strip()
    raise Unauthorized("the ID token names no user (preferred_username, email or sub)")


def _base_url(config: OidcConfig) -> str:
    """This service's address as browsers reach it, without a final slash."""
    return config.base_url or request.host_url.rstrip("/")


def _refused(provider: _Provider, error: AimsgraphError, target: str) -> Response:
    """The login page, saying why signing in failed, with the error's status."""
    page = render_template(
        "login.html",
        next=target,
        error=None,
        sso_error=f"Signing in with {provider.config.provider_name} failed: {error.message}",
        token_login=state().tokens.configured,
    )
    response = Response(page, status=error.status, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = web.PAGE_POLICY  # a page of the site, as web's are
    return response


def _checked_url(value: str, name: str, loopback_http_only: bool = False) -> str:
    """An absolute http(s) URL without query or fragment; with ``loopback_http_only``, plain http
    only on the loopback interface (an issuer's keys must not travel unencrypted)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL without query or fragment, got {value!r}")
    if loopback_http_only and parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError(f"{name} must be an https URL (http only on loopback), got {value!r}")
    return value.strip()


def _client_secret(settings: Settings) -> str:
    """AIMSGRAPH_OIDC_CLIENT_SECRET, or the content of AIMSGRAPH_OIDC_CLIENT_SECRET_FILE."""
    path = settings.oidc_client_secret_file
    if settings.oidc_client_secret and path:
        raise ConfigError("set AIMSGRAPH_OIDC_CLIENT_SECRET or AIMSGRAPH_OIDC_CLIENT_SECRET_FILE, not both")
    if path:
        try:
            secret = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"AIMSGRAPH_OIDC_CLIENT_SECRET_FILE {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"AIMSGRAPH_OIDC_CLIENT_SECRET_FILE {path} is not UTF-8 text") from None
        if not secret:
            raise ConfigError(f"AIMSGRAPH_OIDC_CLIENT_SECRET_FILE {path} is empty")
        return secret
    if not settings.oidc_client_secret:
        raise ConfigError(
            "AIMSGRAPH_OIDC_ISSUER is set: set AIMSGRAPH_OIDC_CLIENT_SECRET or AIMSGRAPH_OIDC_CLIENT_SECRET_FILE too"
        )
    return settings.oidc_client_secret
