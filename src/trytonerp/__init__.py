"""A real finance system for the robots: Tryton (trytond 8.0 with its web client sao).

Everything here runs on the machine that hosts Tryton, never inside a robot: creating a Tryton
database from the mock's seed world (:mod:`trytonerp.seed`), installing the web client from
npm (:mod:`trytonerp.sao`), serving both (:mod:`trytonerp.serve`) and comparing Tryton's
database with the seed's ground truth (:mod:`trytonerp.truth`). ``robot tryton ...`` reaches it
through the ``paybot.commands`` entry point; paybot never imports it (the robots drive Tryton
through sao, see :mod:`paybot.erp.tryton`).
"""

from __future__ import annotations

TRYTOND_VERSION = "8.0.12"
SAO_VERSION = "8.0.11"
"""``tryton-sao`` on npm: 8.0 is the only series with both a sao on npm and ``edocument_ubl``
on PyPI (issue 12)."""
MODULES = ("account_invoice", "account_payment_clearing", "edocument_ubl")
"""Activated with their dependencies (account, account_payment, company, currency, party, ...)."""
LANGUAGE = "en"
"""The robot user's language: the labels the robot finds lists and wizard buttons by."""
