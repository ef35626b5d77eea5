"""JSON request bodies as pydantic v2 models, with one error format and one date-time type.

Owns :class:`Payload` (unknown fields refused, immutable), :func:`validated`, which raises the
first problem as one ``InvalidInput`` naming the field path and the problem
(``measurements[3].value must be a number, not "high"``), the field types every body shares
(:data:`DateTime`, :data:`PastDateTime`, :data:`Iri`, :data:`Text`, :data:`Number` ...) and
:func:`parse_json`. Used by ``records.operations`` (measurements, incidents, concerns, triage) and
``interop.importers.openlineage`` (RunEvents). Imports base modules only.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from aimsgraph import clock
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import is_absolute_iri

#: Longest description or note, in characters.
MAX_TEXT = 10_000
#: Longest label (of an incident, or a finding or risk made from a concern) and reporter's name.
MAX_LABEL = 500
MAX_IRI = 2_000
#: How far ahead of this machine's clock a measurement, incident, communication or OpenLineage
#: event may lie.
MAX_CLOCK_SKEW = timedelta(hours=1)
#: Date-times before this year are refused: a typing mistake (and the canonical xsd:dateTime has a
#: four-digit year).
EARLIEST_YEAR = 1000
#: Values beyond this magnitude are refused; more than 18 decimal places are rounded (what
#: xsd:decimal holds in the store).
MAX_MAGNITUDE = Decimal(10) ** 17
DECIMAL_PLACES = Decimal(1).scaleb(-18)

#: The date-times of every JSON body (:data:`DateTime`): ISO 8601 / RFC 3339 with a time zone (a
#: time without one cannot be put in order with the record's), seconds optional, "T" or a space
#: between date and time (RFC 3339 allows both), either case.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})")


# -- payloads: JSON bodies as pydantic models -------------------------------------------------------
#
# The leaf types below check with messages of their own (:func:`payload_error`); pydantic's own
# errors (a field missing or unknown, a list or an object of the wrong kind) are phrased alike by
# :func:`problem`, and :func:`validated` raises the first as InvalidInput:
# ``<field path> <problem>``, such as ``communications[0].at is missing``.


class Payload(BaseModel):
    """A JSON object of a request body: unknown fields are refused (a misspelt optional field
    would otherwise be lost without a word), and a checked payload is immutable and hashable.
    A model's validator is built when it first checks a body, not when its module is imported
    (which each process start would pay for)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    #: What the object must be, for the message when something else is sent in its place.
    expected: ClassVar[str] = "an object"


def payload_error(problem: str) -> PydanticCustomError:
    """A failed check of a field, as pydantic collects it: ``problem`` follows the field's path in
    the message (``must be a number, not "high"``)."""
    return PydanticCustomError("aimsgraph", problem)


P = TypeVar("P", bound=BaseModel)


def validated(
    model: type[P], payload: object, what: str = "the body", at: tuple[int | str, ...] = (), now: datetime | None = None
) -> P:
    """``payload`` (decoded JSON) checked as ``model``; InvalidInput (400, exit code 2) naming the
    first problem. ``what`` names the payload itself in a message about it as a whole, ``at`` is
    its place in a larger body (``(1,)``: the second item of a list), and date-times may lie up
    to MAX_CLOCK_SKEW after ``now`` (default: this machine's clock)."""
    try:
        return model.model_validate(payload, context={"now": now or clock.now()})
    except ValidationError as exc:
        raise InvalidInput(problem(model, exc.errors(include_url=False, include_input=False), what, at)) from None


def problem(
    model: type[BaseModel], errors: Sequence[ErrorDetails], what: str = "the body", at: tuple[int | str, ...] = ()
) -> str:
    """The message of the first of pydantic's ``errors`` of ``model``: the field's path and the
    problem. An unknown field counts first, as it may be a misspelling of one reported missing."""
    error = errors[0]
    loc = tuple(error["loc"])
    for other in errors:
        parent = tuple(other["loc"])[:-1]
        if other["type"] == "extra_forbidden" and loc[: len(parent)] == parent:
            error, loc = other, tuple(other["loc"])
            break
    return f"{_path(at + loc) or what} {_phrase(model, error, loc)}"


def _phrase(model: type[BaseModel], error: ErrorDetails, loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        known = sorted(f.alias or name for name, f in parent.model_fields.items()) if parent else []
        return "is not a field of this request" + (f" (known: {', '.join(known)})" if known else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be {getattr(_model_at(model, loc), 'expected', 'an object')}"
    if kind in ("list_type", "tuple_type"):
        return "must be a list"
    if kind == "string_type":
        return "must be a string"
    if kind == "bool_type":
        return "must be true or false"
    message = error["msg"]  # a check of ours (payload_error), or another of pydantic's
    return message if kind == "aimsgraph" else message[:1].lower() + message[1:]


def _path(loc: tuple[int | str, ...]) -> str:
    """``measurements[3].value`` for ``("measurements", 3, "value")``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model of the object at ``loc`` in a ``model`` payload, if that place holds one."""
    current: object = model
    for part in loc:
        current = _bare(current)
        if isinstance(part, int):  # an item of a list (a tuple field)
            items = [a for a in get_args(current) if a is not Ellipsis]
            current = items[0] if items else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or name: f for name, f in current.model_fields.items()}
            current = fields[part].annotation if part in fields else None
        else:
            return None
    current = _bare(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _bare(annotation: object) -> object:
    """The type under ``Annotated[...]`` and ``... | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType) and len(args := [a for a in get_args(annotation) if a is not type(None)]) == 1:
            annotation = args[0]
        else:
            return annotation


def required(value: object) -> object:
    """A value that is given: ``null`` counts as missing."""
    if value is None:
        raise payload_error("is missing")
    return value


def shown(value: object) -> str:
    """A value of a body in a message, as JSON, cut to 60 characters."""
    text = json.dumps(value, default=str) if not isinstance(value, Decimal) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_date_time(value: object) -> datetime:
    required(value)
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise payload_error(f"must be an ISO 8601 date-time with a time zone, such as 2026-11-20T09:30:00Z, not {shown(value)}")
    try:
        moment = datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # well formed, but no such day or hour
        raise payload_error(f"is not a valid date-time: {shown(value)} ({exc})") from None
    if moment.year < EARLIEST_YEAR:
        raise payload_error(f"is before the year {EARLIEST_YEAR}: {shown(value)}")
    return moment


def _not_ahead(moment: datetime, info: ValidationInfo) -> datetime:
    # a clock far ahead would put a measurement or a data change ahead of everything after it
    now = (info.context or {}).get("now") or clock.now()
    if moment > now + MAX_CLOCK_SKEW:
        raise payload_error(f"lies in the future: {canonical_time(moment)} is more than an hour ahead of this server's clock")
    return moment


#: A date-time with a time zone (see ``_DATE_TIME``), in UTC: the one date-time type of every body.
#: Each leaf type says its JSON Schema too (WithJsonSchema): the OpenAPI contract
#: (``http/openapi``) describes the bodies with the models' schemas, which a PlainValidator leaves open.
DateTime = Annotated[datetime, PlainValidator(_check_date_time), WithJsonSchema({"type": "string", "format": "date-time"})]
#: A :data:`DateTime` of something that happened: at most MAX_CLOCK_SKEW ahead of the clock.
PastDateTime = Annotated[DateTime, AfterValidator(_not_ahead)]


def _check_iri(value: object) -> str:
    required(value)
    if not isinstance(value, str) or len(value) > MAX_IRI or not is_absolute_iri(value):
        raise payload_error(f"must be an absolute IRI, not {shown(value)}")
    return value


def _text_check(max_length: int | None) -> Callable[[object], str]:
    def check(value: object) -> str:
        required(value)
        if not isinstance(value, str):
            raise payload_error("must be a string")
        if not value.strip():
            raise payload_error("is empty")
        if max_length is not None and len(value) > max_length:
            raise payload_error(f"is {len(value)} characters long; the limit is {max_length}")
        return value

    return check


def one_of(choices: Sequence[str] | Mapping[str, object], phrase: str) -> PlainValidator:
    """A string that is one of ``choices``: ``must be {phrase}, not "other"`` otherwise."""

    def check(value: object) -> str:
        if not isinstance(value, str) or value not in choices:
            raise payload_error(f"must be {phrase}, not {shown(value)}")
        return value

    return PlainValidator(check, json_schema_input_type=Literal[tuple(choices)])  # the contract lists the choices


def _check_number(value: object) -> Decimal:
    required(value)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise payload_error(f"must be a number, not {shown(value)}")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise payload_error("must be a finite number")
    if abs(number) >= MAX_MAGNITUDE:
        raise payload_error("is out of range (at most 17 digits before the decimal point)")
    exponent = number.as_tuple().exponent  # an int: the number is finite
    if isinstance(exponent, int) and exponent < -18:
        number = number.quantize(DECIMAL_PLACES)
    return number


def _iri_list(non_empty: bool) -> BeforeValidator:
    def check(value: object) -> object:
        if value is None:
            if non_empty:
                raise payload_error("is missing (a list of IRIs)")
            return []
        if not isinstance(value, list) or (non_empty and not value):
            raise payload_error(f"must be a {'non-empty ' if non_empty else ''}list of IRIs")
        return value

    return BeforeValidator(check)


def list_of(what: str, null: bool = False) -> BeforeValidator:
    """A JSON list (its items checked as the field's type says): ``must be a list of {what}``
    otherwise; ``null`` as an empty list when ``null``."""

    def check(value: object) -> object:
        if value is None and null:
            return []
        if not isinstance(value, list):
            raise payload_error(f"must be a list of {what}" if what else "must be a list")
        return value

    return BeforeValidator(check)


def unique(items: tuple) -> tuple:
    """The items, each once, in their first order."""
    return tuple(dict.fromkeys(items))


Iri = Annotated[str, PlainValidator(_check_iri), WithJsonSchema({"type": "string", "format": "iri", "maxLength": MAX_IRI})]
#: Text of a description or note; :data:`Label` a label; :data:`Name` any non-blank string.
Text = Annotated[
    str, PlainValidator(_text_check(MAX_TEXT)), WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TEXT})
]
Label = Annotated[
    str, PlainValidator(_text_check(MAX_LABEL)), WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_LABEL})
]
Name = Annotated[str, PlainValidator(_text_check(None)), WithJsonSchema({"type": "string", "minLength": 1})]
Number = Annotated[Decimal, PlainValidator(_check_number), WithJsonSchema({"type": "number"})]
#: A list of IRIs, each once, in the order given (``null``: none); :data:`SomeIris` at least one.
Iris = Annotated[tuple[Iri, ...], _iri_list(non_empty=False), AfterValidator(unique)]
SomeIris = Annotated[tuple[Iri, ...], _iri_list(non_empty=True), AfterValidator(unique)]


# -- JSON ----------------------------------------------------------------------------------------


def parse_json(body: bytes | str, what: str = "body") -> object:
    """Decode a JSON body, numbers with a fraction as Decimal (exactly as written); NaN and
    Infinity, which Python's json accepts, are refused."""

    def constant(name: str) -> object:
        raise InvalidInput(f"the {what} holds {name}, which is not a JSON number")

    try:
        return json.loads(body, parse_float=Decimal, parse_constant=constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"the {what} is not JSON: {exc}") from None


def canonical_time(moment: datetime) -> str:
    """The canonical xsd:dateTime in UTC, as the store keeps it (no trailing zeros, "Z")."""
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
