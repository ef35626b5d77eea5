"""Authentication and roles: who may read, who may write, and who a write is recorded as.

Bearer tokens come from configuration (``AIMSGRAPH_TOKENS`` and ``AIMSGRAPH_TOKEN_FILE``, see
``config``), each with a role and a name. A token is also taken as the password of HTTP Basic
authentication, whatever the user name, because many SPARQL clients (SPARQLWrapper's
``setCredentials``, rdflib's ``auth=``, Jena, curl ``-u``) know only Basic; the token still names
the caller, the user name is ignored. Roles are ordered: a reader may query and read, an
editor may also change the organisation's record, an admin may also change the reference graphs
(ontology, catalogue, vocabularies, ATLAS). Graphs that aimsgraph derives or keeps itself
(inferred, analysis, validation, changes) are written by nobody from outside.

Only SHA-256 digests of the tokens are kept in memory, compared in constant time, and no message
or log line ever contains a token.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from aimsgraph.config import Settings
from aimsgraph.errors import ConfigError, Forbidden, Unauthorized
from aimsgraph.namespaces import Graphs

ROLES = ("reader", "editor", "admin")
#: Graphs whose content comes with aimsgraph or from an admin's import: admin writes them.
REFERENCE_GRAPHS = frozenset(
    {Graphs.ONTOLOGY, Graphs.CATALOGUE, Graphs.FRAMEWORKS, Graphs.VOCABULARIES, Graphs.ATLAS, Graphs.TAXONOMIES}
)
#: Graphs aimsgraph computes or keeps itself (``Graphs.DERIVED``): no request writes them.
SERVICE_GRAPHS = frozenset(Graphs.DERIVED)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the name the audit trail records, and a role."""

    name: str
    role: str

    def has(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def as_reader(self) -> Principal:
        return Principal(self.name, "reader")


#: The caller of a CLI command: whoever can open the store's files is its administrator.
def local_user() -> Principal:
    return Principal(f"local:{getpass.getuser()}", "admin")


class TokenRegistry:
    """The configured tokens, by digest."""

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._by_digest = entries

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenRegistry:
        entries: dict[str, Principal] = {}
        for number, entry in enumerate(settings.tokens, 1):
            parts = entry.split(":", 2)
            if len(parts) != 3:
                raise ConfigError(f"AIMSGRAPH_TOKENS entry {number} is not role:name:token")
            role, name, token = parts
            _add(entries, role, name, token, where=f"AIMSGRAPH_TOKENS entry {number}")
        if settings.token_file is not None:
            for number, line in enumerate(_read(settings.token_file).splitlines(), 1):
                line = line.split("#", 1)[0].strip()
                if line:
                    parts = line.split()
                    if len(parts) != 3:
                        raise ConfigError(f"{settings.token_file} line {number}: expected 'role name token'")
                    role, name, token = parts
                    _add(entries, role, name, token, where=f"{settings.token_file} line {number}")
        return cls(entries)

    @property
    def configured(self) -> bool:
        return bool(self._by_digest)

    def principal(self, authorization: str | None) -> Principal | None:
        """The caller named by an ``Authorization`` header (Bearer, or Basic with the token as
        password); None without one. Unauthorized for a malformed header or an unknown token."""
        if not authorization:
            return None
        wanted = _digest(_token(authorization))
        for digest, principal in self._by_digest.items():  # constant time per comparison
            if hmac.compare_digest(digest, wanted):
                return principal
        raise Unauthorized("the token is not valid")

    def session_key(self, token: str) -> str | None:
        """What a browser session keeps after a token login (the token's digest, never the
        token); None if the token is not valid."""
        wanted = _digest(token.strip())
        return next((digest for digest in self._by_digest if hmac.compare_digest(digest, wanted)), None)

    def session_principal(self, key: object) -> Principal | None:
        """Who a browser session of a token login is, with the token's role; None once the
        token is no longer configured. A cookie is sent with cross-site requests too, so the
        service lets a session act in this role only through forms that carry its CSRF token;
        everywhere else (SPARQL Update, the Graph Store, the API) a session only reads."""
        principal = self._by_digest.get(key) if isinstance(key, str) else None
        return principal


def require(principal: Principal | None, role: str, action: str, registry: TokenRegistry) -> Principal:
    """The caller, if it holds ``role``; otherwise Unauthorized (no token) or Forbidden."""
    if principal is None:
        if not registry.configured:
            raise Unauthorized(
                f"{action} needs a token, and none is configured: the service is read-only "
                "(set AIMSGRAPH_TOKENS or AIMSGRAPH_TOKEN_FILE)"
            )
        raise Unauthorized(f"{action} needs a bearer token with the {role} role")
    if not principal.has(role):
        raise Forbidden(f"{action} needs the {role} role; the token of {principal.name} has the {principal.role} role")
    return principal


def role_to_write(graph: str) -> str:
    """The role that may change ``graph``; Forbidden for graphs aimsgraph keeps itself."""
    if graph in SERVICE_GRAPHS:
        raise Forbidden(f"<{graph}> is kept by aimsgraph itself and cannot be written")
    return "admin" if graph in REFERENCE_GRAPHS else "editor"


def require_write(principal: Principal | None, graphs: set[str], registry: TokenRegistry) -> Principal:
    """The caller, if it may write every one of ``graphs``."""
    roles = {role_to_write(g) for g in graphs} or {"editor"}
    role = "admin" if "admin" in roles else "editor"
    what = ", ".join(f"<{g}>" for g in sorted(graphs)) or "the record"
    return require(principal, role, f"writing {what}", registry)


def _add(entries: dict[str, Principal], role: str, name: str, token: str, where: str) -> None:
    if role not in ROLES:
        # the value is not repeated: with the fields in the wrong order it would be the token
        raise ConfigError(f"{where}: the role (first field) must be one of {', '.join(ROLES)}")
    if len(token) < 16:
        raise ConfigError(f"{where}: the token is shorter than 16 characters")
    entries[_digest(token)] = Principal(name, role)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"AIMSGRAPH_TOKEN_FILE {path}: {exc.strerror}") from None


def _token(authorization: str) -> str:
    """The token of an ``Authorization`` header: ``Bearer <token>``, or ``Basic`` credentials
    whose password is the token."""
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic":
        try:
            _user, colon, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            colon, password = "", ""
        if colon and password:
            return password
    raise Unauthorized("the Authorization header must be 'Bearer <token>', or Basic credentials with the token as password")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
