"""Reading the finance system's screens from their HTML.

The browser fetches a page's source once; everything the robot needs from that page is read
here, in Python, from that one string. No element-by-element round trips to the browser.
Pure functions: tested on saved pages without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass

import lxml.html
from lxml.html import HtmlElement

from paybot.domain.models import RawInvoice, RawLine
from paybot.erp import locators as loc


@dataclass(frozen=True)
class Page:
    """One page as the browser showed it."""

    doc: HtmlElement
    screen: str  # <body data-side>
    error: str  # text of #fejlbesked, "" when none
    info: str  # text of #besked, "" when none

    def has(self, element_id: str) -> bool:
        return bool(_elements(self.doc, "//*[@id=$i]", i=element_id))

    def text(self, element_id: str) -> str:
        found = _elements(self.doc, "//*[@id=$i]", i=element_id)
        return _text(found[0]) if found else ""

    def missing(self, element_ids: tuple[str, ...]) -> list[str]:
        return [i for i in element_ids if not self.has(i)]


@dataclass(frozen=True)
class ListPage:
    rows: list[dict[str, str]]
    has_next: bool


def _elements(node: HtmlElement, path: str, **variables: str) -> list[HtmlElement]:
    """XPath that selects elements (lxml's stubs type every XPath result as a union)."""
    return [el for el in node.xpath(path, **variables) if isinstance(el, HtmlElement)]


def _text(el: HtmlElement) -> str:
    return " ".join(el.text_content().split())


def read_page(html: str) -> Page:
    doc = lxml.html.document_fromstring(html or "<html><body></body></html>")
    bodies = _elements(doc, "//body")
    screen = str(bodies[0].get("data-side", "")) if bodies else ""
    page = Page(doc=doc, screen=screen, error="", info="")
    return Page(
        doc=doc,
        screen=screen,
        error=page.text(loc.ERROR_MESSAGE_ID),
        info=page.text(loc.INFO_MESSAGE_ID),
    )


def table_rows(page: Page, table_id: str, row_class: str) -> list[dict[str, str]]:
    """The rows of a list table, each as ``{data-felt: text}``; with no ``row_class``, every
    row that has ``data-felt`` cells."""
    if row_class:
        rows = _elements(
            page.doc,
            "//table[@id=$t]//tr[contains(concat(' ', normalize-space(@class), ' '), $c)]",
            t=table_id,
            c=f" {row_class} ",
        )
    else:
        rows = _elements(page.doc, "//table[@id=$t]//tr[.//*[@data-felt]]", t=table_id)
    out: list[dict[str, str]] = []
    for row in rows:
        cells = {str(td.get("data-felt")): _text(td) for td in _elements(row, ".//*[@data-felt]")}
        out.append(cells)
    return out


def read_list(page: Page, table_id: str, row_class: str) -> ListPage:
    return ListPage(rows=table_rows(page, table_id, row_class), has_next=page.has(loc.NEXT_PAGE_ID))


def read_invoice(page: Page) -> RawInvoice:
    """Every ``felt-*`` value and every line of an invoice page."""
    fields: dict[str, str] = {}
    for el in _elements(page.doc, "//*[starts-with(@id, $p)]", p=loc.FIELD_PREFIX):
        fields[str(el.get("id"))[len(loc.FIELD_PREFIX) :]] = _text(el)
    known = set(RawLine.model_fields)
    lines = tuple(
        RawLine(**{k: v for k, v in row.items() if k in known})
        for row in table_rows(page, loc.LINES_TABLE_ID, loc.LINE_ROW_CLASS)
    )
    return RawInvoice(fields=fields, lines=lines)


def read_voucher(page: Page) -> str:
    return page.text(loc.RECEIPT_VOUCHER_ID)
