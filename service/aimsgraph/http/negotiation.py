"""HTTP content negotiation: parse an Accept header (q-values, wildcards, parameters) and pick
the best of the media types an endpoint can produce.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    q: float
    order: int  # position in the header, to keep the client's order between equal q-values

    def matches(self, media_type: str) -> bool:
        main, _, sub = media_type.partition("/")
        return (self.type in ("*", main)) and (self.subtype in ("*", sub))

    @property
    def specificity(self) -> int:
        return (self.type != "*") + (self.subtype != "*")


def parse_accept(header: str | None) -> list[MediaRange]:
    """Parse an Accept header. A missing or empty header accepts anything (``*/*``).

    Malformed entries (no ``type/subtype``, a q-value that is not a number) are skipped rather
    than rejected, as browsers and libraries send odd ones; a header with no readable entry at
    all counts as missing, so the client gets the default format instead of a 406 for a header
    it cannot fix. A bare ``*`` is read as ``*/*``: Java's URLConnection sends it.
    """
    ranges = []
    for order, item in enumerate((header or "").split(",")):
        media, *params = [part.strip() for part in item.split(";")]
        main, slash, sub = ("*/*" if media == "*" else media.lower()).partition("/")
        q = _q_value(params)
        if slash and main and sub and q is not None:
            ranges.append(MediaRange(main, sub, q, order))
    return ranges or [MediaRange("*", "*", 1.0, 0)]


def _q_value(params: list[str]) -> float | None:
    """The q parameter of a media range (1 when absent), None when it is not a number."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return None
    return 1.0


def best_match(header: str | None, offered: list[str]) -> str | None:
    """The offered media type the client prefers, or None when nothing is acceptable.

    Each offered type takes the q-value of the most specific range matching it (RFC 9110
    12.5.1); ties go to the client's earlier range, then to the server's order of ``offered``.
    """
    ranges = parse_accept(header)
    best: tuple[float, int, int] | None = None
    chosen = None
    for server_rank, media_type in enumerate(offered):
        matching = [r for r in ranges if r.matches(media_type)]
        if not matching:
            continue
        most_specific = max(matching, key=lambda r: (r.specificity, r.q))
        if most_specific.q <= 0:
            continue
        key = (most_specific.q, -most_specific.order, -server_rank)
        if best is None or key > best:
            best, chosen = key, media_type
    return chosen
