"""Charts as inline SVG, for the pages and the self-contained auditor report: the risk heat map,
a picture of part of the dependency graph, and readiness bars.

Plain strings built with escaping, no script: they display in any browser and in a file opened
with no network. Where a link function is given, cells and nodes become ``<a>`` elements with
an ``aria-label``, so the keyboard reaches them and screen readers say what they hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from html import escape

from markupsafe import Markup

from aimsgraph.reporting.overview import HeatMap, Picture
from aimsgraph.reporting.reports import Readiness

#: Fill colours from the lowest to the highest level of a scale (colour-blind safe enough with
#: the level's name written in every cell).
LEVEL_COLOURS = ("#d9f0d3", "#fff3b0", "#fdd49e", "#f4a582", "#d6604d")
KIND_COLOURS = {
    "AISystem": "#dbe9f6",
    "Model": "#e8dff5",
    "Dataset": "#fdf0d5",
    "InfrastructureService": "#e2e2e2",
    "Supplier": "#f6dde2",
}
HIGHLIGHT = "#f4a582"


def level_colour(rank: int) -> str:
    """The colour of a level by its rank, the same as the ``level-N`` badges of the stylesheet."""
    return LEVEL_COLOURS[max(0, min(rank - 1, len(LEVEL_COLOURS) - 1))]


def heat_map(data: HeatMap, link: Callable[[int, int], str] | None = None, selected: tuple[int, int] | None = None) -> Markup:
    """The matrix, likelihood up the side and severity along the bottom, risks counted per cell."""
    cell_w, cell_h, left, top = 96, 64, 150, 10
    columns, rows = len(data.severities), len(data.likelihoods)
    width, height = left + columns * cell_w + 10, top + rows * cell_h + 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="group" aria-label="Risk heat map ({escape(data.view)} risk)">'
    ]
    for r, (likelihood, l_label) in enumerate(data.likelihoods):
        y = top + r * cell_h
        parts.append(
            f'<text x="{left - 8}" y="{y + cell_h / 2 + 4}" text-anchor="end" class="axis">{escape(_short(l_label, 20))}</text>'
        )
        for c, (severity, s_label) in enumerate(data.severities):
            x = left + c * cell_w
            cell = data.cell(likelihood, severity)
            count = cell.count
            outline = (
                ' stroke="#000" stroke-width="3"' if selected == (likelihood, severity) else ' stroke="#fff" stroke-width="2"'
            )
            body = (
                f'<rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" fill="{level_colour(cell.level.rank)}"{outline}/>'
                f'<text x="{x + cell_w / 2}" y="{y + 28}" text-anchor="middle" class="count">{count}</text>'
                f'<text x="{x + cell_w / 2}" y="{y + 48}" text-anchor="middle" class="level">{escape(cell.level.label)}</text>'
            )
            label = f"Likelihood {l_label}, severity {s_label}: {count} risk{'s' if count != 1 else ''}, level {cell.level.label}"
            if link:
                parts.append(
                    f'<a href="{escape(link(likelihood, severity))}" aria-label="{escape(label)}" '
                    f'data-cell="{likelihood}-{severity}" class="cell">{body}</a>'
                )
            else:
                parts.append(f'<g data-cell="{likelihood}-{severity}"><title>{escape(label)}</title>{body}</g>')
    y = top + rows * cell_h
    for c, (_, s_label) in enumerate(data.severities):
        parts.append(
            f'<text x="{left + c * cell_w + cell_w / 2}" y="{y + 18}" text-anchor="middle" class="axis">'
            f"{escape(_short(s_label, 14))}</text>"
        )
    parts.append(f'<text x="{left + columns * cell_w / 2}" y="{y + 48}" text-anchor="middle" class="title">Severity</text>')
    parts.append(
        f'<text x="12" y="{top + rows * cell_h / 2}" class="title" transform="rotate(-90 12 {top + rows * cell_h / 2})" '
        'text-anchor="middle">Likelihood</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def dependency_picture(data: Picture, link: Callable[[str], str] | None = None) -> Markup:
    """Assets in columns by distance from the focus (components left, dependents right);
    arrows point the way risk flows, from a component to what depends on it."""
    by_column: dict[int, list[str]] = defaultdict(list)
    for node, column in data.columns.items():
        by_column[column].append(node)
    for nodes in by_column.values():
        nodes.sort(key=lambda n: (data.nodes[n][1], data.nodes[n][0]))
    order = sorted(by_column)
    node_w, node_h, gap_x, gap_y, margin = 170, 38, 60, 14, 12
    position = {}
    for index, column in enumerate(order):
        for row, node in enumerate(by_column[column]):
            position[node] = (margin + index * (node_w + gap_x), margin + row * (node_h + gap_y))
    width = margin * 2 + len(order) * (node_w + gap_x) - gap_x
    height = margin * 2 + max(len(n) for n in by_column.values()) * (node_h + gap_y) - gap_y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="depgraph" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="group" aria-label="Dependencies of {escape(data.nodes[data.focus][0])}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for edge in data.edges:
        (x1, y1), (x2, y2) = position[edge.dependency], position[edge.dependent]
        start: tuple[float, float]
        end: tuple[float, float]
        if x2 > x1:
            start, end = (x1 + node_w, y1 + node_h / 2), (x2, y2 + node_h / 2)
        elif x2 < x1:
            start, end = (x1, y1 + node_h / 2), (x2 + node_w, y2 + node_h / 2)
        else:  # same column: from the bottom of one to the top of the other
            start, end = (x1 + node_w / 2, y1 + (node_h if y2 > y1 else 0)), (x2 + node_w / 2, y2 + (0 if y2 > y1 else node_h))
        hot = edge.dependency in data.highlighted | {data.focus} and edge.dependent in data.highlighted
        parts.append(
            f'<line x1="{start[0]}" y1="{start[1]}" x2="{end[0]}" y2="{end[1]}" class="edge{" hot" if hot else ""}" '
            f'stroke="{"#b2182b" if hot else "#888"}" stroke-width="{2 if hot else 1.2}" marker-end="url(#arrow)">'
            f"<title>{escape(data.nodes[edge.dependent][0])} {escape(', '.join(edge.types))} "
            f"{escape(data.nodes[edge.dependency][0])}</title></line>"
        )
    for node, (x, y) in sorted(position.items()):
        label, kind = data.nodes[node]
        focus = node == data.focus
        fill = HIGHLIGHT if node in data.highlighted else KIND_COLOURS.get(kind, "#fff")
        state = " (affected)" if node in data.highlighted else ""
        body = (
            f'<rect x="{x}" y="{y}" width="{node_w}" height="{node_h}" rx="6" fill="{fill}" '
            f'stroke="{"#000" if focus else "#666"}" stroke-width="{3 if focus else 1}"/>'
            f'<text x="{x + 8}" y="{y + 16}" class="node-label">{escape(_short(label, 24))}</text>'
            f'<text x="{x + 8}" y="{y + 31}" class="node-kind">{escape(kind)}{escape(state)}</text>'
        )
        name = f"{label} ({kind}){state}"
        classes = "node" + (" affected" if node in data.highlighted else "") + (" focus" if focus else "")
        if link:
            parts.append(
                f'<a href="{escape(link(node))}" aria-label="{escape(name)}" class="{classes}" '
                f'data-iri="{escape(node)}">{body}</a>'
            )
        else:
            parts.append(f'<g class="{classes}" data-iri="{escape(node)}"><title>{escape(name)}</title>{body}</g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def readiness_bars(items: list[Readiness]) -> Markup:
    """One bar per clause: the share of passing checks, with the counts written beside it; a
    clause without checks has an empty bar and says so."""
    bar_w, row_h, left = 260, 22, 300
    height = row_h * len(items) + 8
    width = left + bar_w + 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="readiness" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Readiness per clause">'
    ]
    for index, item in enumerate(items):
        y = 4 + index * row_h
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" class="axis">{escape(_short(item.label, 44))}'
            f"<title>{escape(item.label)}</title></text>"
            f'<rect x="{left}" y="{y + 2}" width="{bar_w}" height="{row_h - 6}" fill="#eee"/>'
        )
        if item.ratio is not None:
            colour = "#4d9221" if item.ratio >= 0.999 else "#f1a340" if item.ratio >= 0.75 else "#d6604d"
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{bar_w * item.ratio:.1f}" height="{row_h - 6}" fill="{colour}"/>')
        parts.append(
            f'<text x="{left + bar_w + 8}" y="{y + 14}" class="axis">{escape(item.percent())} '
            f"({item.total - item.failed}/{item.total})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
