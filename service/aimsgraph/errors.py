"""The error types of aimsgraph: each carries the HTTP status and CLI exit code it maps to.

Domain modules raise these; the web layer and the CLI render them in one place each.
"""

from __future__ import annotations


class AimsgraphError(Exception):
    """Base class. ``status`` is the HTTP status, ``exit_code`` the CLI exit code."""

    status = 500
    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(AimsgraphError):
    """A setting has a value the service cannot use."""

    exit_code = 2


class InvalidInput(AimsgraphError):
    """The request or file is malformed (bad SPARQL, bad RDF, bad parameter)."""

    status = 400
    exit_code = 2


class NotAcceptable(AimsgraphError):
    """No result format satisfies the Accept header."""

    status = 406
    exit_code = 2


class PayloadTooLarge(AimsgraphError):
    """The request body is larger than the configured limit."""

    status = 413
    exit_code = 2


class UnsupportedMediaType(AimsgraphError):
    """The request body has a content type the endpoint does not take."""

    status = 415
    exit_code = 2


class Forbidden(AimsgraphError):
    """The request asks for something the configuration does not allow (e.g. SERVICE to a host
    that is not on the allow-list)."""

    status = 403
    exit_code = 2


class Unauthorized(AimsgraphError):
    """The request needs a bearer token and has none, or one the service does not know."""

    status = 401
    exit_code = 2


class TooManyRequests(AimsgraphError):
    """More calls of one kind arrived without a token than the service takes in a minute
    (``api.ratelimit.limit_anonymous``)."""

    status = 429
    exit_code = 2


class NotFound(AimsgraphError):
    """The named graph or resource does not exist."""

    status = 404
    exit_code = 2


class ValidationRejected(AimsgraphError):
    """The validation gate refused a write because it would add SHACL Violations."""

    status = 422
    exit_code = 4

    def __init__(self, message: str, findings: list) -> None:
        super().__init__(message)
        self.findings = findings


class ExportInvalid(AimsgraphError):
    """An export cannot be made or fails its own shapes: the record lacks something a catalogue
    needs (a management system to publish it, a title, a publisher's name ...)."""

    status = 422
    exit_code = 1


class RemoteServiceError(AimsgraphError):
    """A SPARQL SERVICE call to an allowed endpoint failed (down, refused, bad answer), or the
    external store (``store.remote``) answered with an error."""

    status = 502
    exit_code = 3


class QueryTimeout(AimsgraphError):
    """The query ran longer than the configured timeout and was stopped."""

    status = 503
    exit_code = 3


class StoreUnavailable(AimsgraphError):
    """The store cannot be opened or read."""

    status = 503
    exit_code = 3


def error_name(exc: AimsgraphError) -> str:
    """The name of the nearest class of this module that ``exc`` is an instance of (a subclass
    defined elsewhere counts as the class of this module it derives from).

    With :func:`error_class`, how an error crosses a process boundary (the forked query readers
    of :mod:`aimsgraph.sparql.executor` send errors back by name)."""
    return next(cls.__name__ for cls in type(exc).__mro__ if error_class(cls.__name__) is cls)


def error_class(name: str) -> type[AimsgraphError]:
    """The error class of this module called ``name``; :class:`AimsgraphError` for any other name."""
    found = globals().get(name)
    return found if isinstance(found, type) and issubclass(found, AimsgraphError) else AimsgraphError
