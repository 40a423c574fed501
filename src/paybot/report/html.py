"""Rendering the reports to HTML with the Jinja2 templates shipped in this package.

The API the console and the run use (each returns a whole, self-contained HTML page as a
string: inline CSS, SVG charts drawn by the template, no script, no CDN, works offline):

- :func:`render_run` ``(data, link_prefix="") -> str``: one run's report from its
  ``report.json`` data; links (screenshots: ``screenshots/<file>.png``) are relative to the run
  folder, where ``report.html`` is written, or start with ``link_prefix``.
- :func:`render_morning` ``(night) -> str``: the morning report of a night
  (:func:`paybot.report.night.build_night` ``(output_dir, day, municipality=...,
  runs_prefix="../runs/")``); links to runs (``<runs_prefix><run-id>/report.html``, their
  screenshots) are relative to ``<output_dir>/reports/`` by default.
- :func:`paybot.report.morning.morning_html` ``(output_dir, day) -> str`` does both steps.

Every file name in a link is checked to be a plain name (:func:`paybot.report.view.safe_name`:
no ``/``, no ``..``), so a link never leaves the folder it points into.

Autoescape is on for every template, and every text is masked (:func:`mask_text`) once more as
it is written into the page, so a CPR number that slipped into a note never reaches a page.
Pure: no file is read but the templates; safe to call from any thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from paybot.audit.masking import mask_text
from paybot.report.night import Night
from paybot.report.view import run_view


def _finalize(value: object) -> object:
    if isinstance(value, Markup):  # a macro's output: rendered (and masked) already
        return value
    return mask_text(value) if isinstance(value, str) else value


def _px(share: float, width: float) -> str:
    """A share (0–1) of ``width`` pixels, at least 1 when the share is above 0."""
    pixels = max(0.0, min(1.0, float(share))) * width
    return f"{max(pixels, 1.0) if share > 0 else 0.0:.1f}"


_env = Environment(
    loader=PackageLoader("paybot.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["px"] = _px
_env.filters["seconds"] = lambda s: f"{float(s):.1f}".replace(".", ",") + " s"


def render_run(data: Mapping[str, Any], *, link_prefix: str = "") -> str:
    """One run's report page (Danish) from its ``report.json`` data (schema 1 or 2; missing
    keys show as empty). Raises nothing for odd data but ``jinja2`` errors for a broken
    template."""
    return _env.get_template("run.html").render(run=run_view(data, link_prefix=link_prefix))


def render_morning(night: Night) -> str:
    """The morning report page (Danish) of a night of all robots."""
    return _env.get_template("morning.html").render(night=night)
