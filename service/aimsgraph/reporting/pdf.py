"""PDF of the auditor report and the management review pack, printed from their HTML.

This module owns turning those self-contained HTML documents into PDF with WeasyPrint. The
paged layout is the documents' own print stylesheet (``templates/print.css``, included by
``report.html`` and ``review-pack.html`` for ``media="print"``): numbered A4 pages, a table of
contents with page numbers, the charts (inline SVG, which WeasyPrint draws itself) and wide
tables on landscape pages; the headings become the PDF's bookmarks.

WeasyPrint (PyPI, BSD) needs the Pango library (Debian: ``libpango-1.0-0``
``libpangoft2-1.0-0``, which Chromium pulls in too) and is imported when a PDF is made, not
when the command line or the service starts. Nothing is fetched: the HTML refers to nothing
outside itself, and a URL fetcher that refuses every URL makes sure of it.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from aimsgraph.errors import AimsgraphError
from aimsgraph.reporting import auditor_report, review_pack
from aimsgraph.semantics.validation import Finding
from aimsgraph.store import GraphStore

MEDIA_TYPE = "application/pdf"


class PdfUnavailable(AimsgraphError):
    """WeasyPrint or the Pango library it needs is not installed: an installation problem the
    caller can fix, said in one line (HTTP 501, exit code 3)."""

    status = 501
    exit_code = 3


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML document, printed with its print stylesheet."""
    weasyprint = _weasyprint()
    document = weasyprint.HTML(string=svg_styles_inline(html), url_fetcher=_no_fetch, media_type="print")
    return document.write_pdf()


#: A rule of the document's stylesheet for a class of SVG elements: ``svg .axis { ... }``.
_SVG_RULE = re.compile(r"svg\s+\.([\w-]+)\s*\{([^}]*)\}")
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)


def svg_styles_inline(html: str) -> str:
    """The HTML with the document's ``svg .class`` rules copied into a ``style`` attribute of
    each element of that class in its inline SVG: WeasyPrint draws SVG text without the
    document's rules, so the charts' labels would come out in 16 px (too wide for the space the
    charts give them) and their counts without bold."""
    rules: dict[str, str] = {}
    for sheet in _STYLE.findall(html):
        for name, declarations in _SVG_RULE.findall(sheet):
            rules[name] = rules.get(name, "") + declarations.strip().rstrip(";") + ";"
    if not rules:
        return html

    def styled(match: re.Match[str]) -> str:
        tag, classes = match.group(0), match.group(2).split()
        declarations = "".join(rules[c] for c in classes if c in rules)
        if not declarations or " style=" in tag:
            return tag
        end = 2 if tag.endswith("/>") else 1
        return f'{tag[:-end]} style="{declarations}"{tag[-end:]}'

    return re.sub(r'<(text|g|a|line|rect)\b[^>]*\bclass="([^"]*)"[^>]*>', styled, html)


def auditor_report_pdf(store: GraphStore, findings: list[Finding], as_of: date) -> bytes:
    """The auditor report (:func:`aimsgraph.reporting.auditor_report.render_html`) as PDF."""
    return html_to_pdf(auditor_report.render_html(store, findings, as_of))


def review_pack_pdf(pack: review_pack.ReviewPack) -> bytes:
    """The management review pack (:func:`aimsgraph.reporting.review_pack.render_html`) as PDF."""
    return html_to_pdf(review_pack.render_html(pack))


class _SvgFillInCss(logging.Filter):
    """Drops WeasyPrint's warning for each ``fill`` of the documents' chart rules: it reads them
    as HTML CSS, where the property does not exist; the charts get them inline
    (:func:`svg_styles_inline`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Ignored `fill:")


def _weasyprint():
    logger = logging.getLogger("weasyprint")
    if not any(isinstance(f, _SvgFillInCss) for f in logger.filters):
        logger.addFilter(_SvgFillInCss())
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: cffi cannot load Pango
        raise PdfUnavailable(
            "PDF needs WeasyPrint and the Pango library: pip install weasyprint and, on Debian, "
            f"apt-get install libpango-1.0-0 libpangoft2-1.0-0 ({exc})"
        ) from None
    return weasyprint


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict:
    """The documents are self-contained: a reference to anything else is refused, never fetched."""
    raise ValueError(f"the report refers to {url!r}, which is not fetched")
