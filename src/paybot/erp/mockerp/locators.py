"""Every locator the robots use on the finance system's screens, in one place.

Elements are found by their HTML id (``By.ID``); lists by table id and row class.

The screens are described in docs/finance-system.md. When the finance system changes a screen,
this file (and the preflight's list of required elements) is what changes.
"""

from __future__ import annotations

from typing import Final

# Paths
LOGIN: Final = "/login"
INBOX: Final = "/indbakke"
INVOICE: Final = "/faktura/{erp_id}"
PAYMENTS: Final = "/betalinger"
REQUISITIONS: Final = "/rekvisitioner"
BOOKINGS: Final = "/tolkebestillinger"
CHART: Final = "/kontoplan"

# Which screen a page is: <body data-side="...">
SCREEN_LOGIN: Final = "login"
SCREEN_INBOX: Final = "indbakke"
SCREEN_INVOICE: Final = "faktura"
SCREEN_RECEIPT: Final = "kvittering"
SCREEN_PAYMENTS: Final = "betalinger"
SCREEN_REQUISITIONS: Final = "rekvisitioner"
SCREEN_BOOKINGS: Final = "tolkebestillinger"
SCREEN_CHART: Final = "kontoplan"
SCREEN_SYSTEM_MESSAGE: Final = "systembesked"
SCREEN_ERROR: Final = "fejl"

# Login
LOGIN_USER: Final = "brugernavn"
LOGIN_PASSWORD: Final = "adgangskode"
LOGIN_BUTTON: Final = "log-ind"

# Messages on any page
ERROR_MESSAGE_ID: Final = "fejlbesked"
INFO_MESSAGE_ID: Final = "besked"
SYSTEM_MESSAGE_OK: Final = "systembesked-ok"

# Inbox and other lists
INBOX_TABLE_ID: Final = "fakturaer"
INBOX_ROW_CLASS: Final = "faktura"
NEXT_PAGE_ID: Final = "naeste-side"
PAYMENTS_TABLE_ID: Final = "betalinger"
PAYMENTS_ROW_CLASS: Final = "betaling"
CHART_TABLE_ID: Final = "kontoplan"
EXPORT_XLSX: Final = "eksport-xlsx"

# Invoice detail
FIELD_PREFIX: Final = "felt-"
LINES_TABLE_ID: Final = "linjer"
LINE_ROW_CLASS: Final = "linje"
ALLOWANCES_TABLE_ID: Final = "rabatter-gebyrer"  # document allowances and charges (optional)
ALLOWANCE_ROW_CLASS: Final = "rabat-gebyr"
VAT_TABLE_ID: Final = "momsspecifikation"  # VAT breakdown per category (optional)
VAT_ROW_CLASS: Final = "momslinje"

# Approval form
APPROVE_FORM_ID: Final = "godkend-form"
APPROVE_ACCOUNT: Final = "kontostreng"
APPROVE_AMOUNT: Final = "beloeb"
APPROVE_TEXT: Final = "posteringstekst"
APPROVE_DATE: Final = "betalingsdato"
APPROVE_BUTTON: Final = "godkend-betal"
RECEIPT_VOUCHER_ID: Final = "bilagsnummer"
RECEIPT_LOEBENR_ID: Final = "kvittering-loebenr"

# Manual handling form
MANUAL_FORM_ID: Final = "manuel-form"
MANUAL_REASON: Final = "aarsagskode"
MANUAL_NOTE: Final = "bemaerkning"
MANUAL_BUTTON: Final = "send-manuel"

# Elements that show personal data: blanked in the page before any screenshot.
PERSONAL_DATA_SELECTORS: Final = (
    "#felt-cpr",
    "#felt-kontonr",
    "#felt-regnr",
    "td[data-felt='cpr']",
    "#bruger",
)

# What preflight requires on each screen before anything is touched.
REQUIRED_ON_INBOX: Final = ("filter-form", INBOX_TABLE_ID, "antal", "side-info")
REQUIRED_ON_INVOICE: Final = (
    "felt-loebenr",
    "felt-status",
    "felt-cvr",
    "felt-fakturanr",
    "felt-at-betale",
    LINES_TABLE_ID,
    APPROVE_FORM_ID,
    MANUAL_FORM_ID,
    "kontostreng",
    "beloeb",
    "posteringstekst",
    "betalingsdato",
    "godkend-betal",
    "aarsagskode",
    "bemaerkning",
    "send-manuel",
)
REQUIRED_ON_CHART: Final = (CHART_TABLE_ID,)
