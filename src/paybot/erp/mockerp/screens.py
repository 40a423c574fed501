"""Reading the finance system's screens from their HTML.

The browser fetches a page's source once; everything the robot needs from that page is read
here, in Python, from that one string. No element-by-element round trips to the browser.
Pure functions: tested on saved pages without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import lxml.html
from lxml.html import HtmlElement
from pydantic import BaseModel

from paybot.domain.models import RawAllowanceCharge, RawInvoice, RawLine, RawVatSubtotal
from paybot.erp.mockerp import locators as loc


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


_Row = TypeVar("_Row", bound=BaseModel)


def _rows(page: Page, table_id: str, row_class: str, model: type[_Row]) -> tuple[_Row, ...]:
    """The table's rows as ``model`` (cells the model does not know are ignored)."""
    known = set(model.model_fields)
    return tuple(
        model(**{k: v for k, v in row.items() if k in known})
        for row in table_rows(page, table_id, row_class)
    )


def read_invoice(page: Page) -> RawInvoice:
    """Every ``felt-*`` value, every line, document allowance/charge and VAT category row of
    an invoice page (the last two tables may be absent: no rows)."""
    fields: dict[str, str] = {}
    for el in _elements(page.doc, "//*[starts-with(@id, $p)]", p=loc.FIELD_PREFIX):
        fields[str(el.get("id"))[len(loc.FIELD_PREFIX) :]] = _text(el)
    return RawInvoice(
        fields=fields,
        lines=_rows(page, loc.LINES_TABLE_ID, loc.LINE_ROW_CLASS, RawLine),
        allowances_charges=_rows(
            page, loc.ALLOWANCES_TABLE_ID, loc.ALLOWANCE_ROW_CLASS, RawAllowanceCharge
        ),
        vat_subtotals=_rows(page, loc.VAT_TABLE_ID, loc.VAT_ROW_CLASS, RawVatSubtotal),
    )


def read_voucher(page: Page) -> str:
    return page.text(loc.RECEIPT_VOUCHER_ID)
