"""The console's forms (POST): an operator releases or hands over a work item and pauses or
resumes a robot; an auditor exports the trail.

Each change goes through the function ``robot queue`` / ``robot schedule`` use
(:func:`paybot.commands.queue.hand_over`, :func:`paybot.commands.queue.release`,
:func:`paybot.commands.scheduling.change_job`), so it is checked and audited the same way; the
audit record's ``by`` is ``console:<user>``. Every form carries the CSRF token
(:mod:`paybot.console.security`); after a change the browser is sent back to the page
(303, Post/Redirect/Get) with a message saying what happened.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, send_file, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from paybot.audit import AuditTrailError
from paybot.audit.export import ExportError, export, verification_summary
from paybot.audit.show import Filters
from paybot.commands.queue import find_item, hand_over, release
from paybot.commands.scheduling import change_job
from paybot.console import reads
from paybot.console.auth import Permission, requires
from paybot.console.state import render, state
from paybot.domain.calendar import parse_danish_moment
from paybot.errors import ConfigError, LedgerError, UsageError
from paybot.private import private_dir

bp = Blueprint("forms", __name__)


log = logging.getLogger("paybot.console")


def who() -> str:
    return f"console:{g.user.name}"


def _back_to_queue() -> WerkzeugResponse:
    target = request.form.get("tilbage", "")
    if not target.startswith("/koe") or target.startswith("//"):
        target = url_for("pages.queue")
    return redirect(target, code=303)


def _item(robot: str, erp_id: int) -> Any:
    st = state()
    if robot not in st.manifests:
        abort(404)
    try:
        return find_item(reads.shared_ledger(st), [robot], erp_id)
    except UsageError:
        abort(404)


@bp.route("/koe/<robot>/<int:erp_id>/frigiv", methods=["POST"])
@requires(Permission.ACT)
def release_item(robot: str, erp_id: int) -> WerkzeugResponse:
    st = state()
    item = _item(robot, erp_id)
    try:
        release(st.settings, reads.shared_ledger(st), item, by=who())
        log.info("%s released %s løbenr. %s", who(), robot, erp_id)
        flash(f"Løbenr. {erp_id} ({robot}) er frigivet: næste kørsel tager den som ny.", "ok")
    except LedgerError as exc:
        flash(f"Løbenr. {erp_id} blev ikke frigivet: {exc}", "bad")
    return _back_to_queue()


@bp.route("/koe/<robot>/<int:erp_id>/overdrag", methods=["POST"])
@requires(Permission.ACT)
def hand_over_item(robot: str, erp_id: int) -> WerkzeugResponse:
    st = state()
    item = _item(robot, erp_id)
    reason = request.form.get("aarsag", "")
    note = request.form.get("note", "")
    try:
        hand_over(st.settings, reads.shared_ledger(st), item, reason=reason, note=note, by=who())
        log.info("%s handed over %s løbenr. %s (%s)", who(), robot, erp_id, reason)
        flash(
            f"Løbenr. {erp_id} ({robot}) er markeret til manuel behandling ({reason}): den "
            "betales ikke, og næste kørsel overdrager den i økonomisystemet.",
            "ok",
        )
    except (UsageError, LedgerError, ConfigError) as exc:
        flash(f"Løbenr. {erp_id} blev ikke overdraget: {exc}", "bad")
    return _back_to_queue()


@bp.route("/planlaegning/<robot>/<action>", methods=["POST"])
@requires(Permission.ACT)
def change_schedule(robot: str, action: str) -> WerkzeugResponse:
    st = state()
    if robot not in st.manifests or action not in ("pause", "genoptag"):
        abort(404)
    english = "pause" if action == "pause" else "resume"
    try:
        with reads.job_book(st) as book:
            done = change_job(book, st.settings, robot, english, by=who())
        log.info("%s: %s %s (%s)", who(), english, robot, "done" if done else "no change")
        if english == "pause":
            text = "er sat på pause" if done else "var allerede sat på pause"
        else:
            text = "kører igen efter planen" if done else "var ikke sat på pause"
        flash(f"{robot} {text}.", "ok")
    except ConfigError as exc:
        flash(f"{robot}: {exc}", "bad")
    return redirect(url_for("pages.schedule"), code=303)


def _moment(name: str) -> dt.datetime | None:
    text = request.form.get(name, "").strip()
    return parse_danish_moment(text, end_of_day=name == "til") if text else None


@bp.route("/eksport", methods=["POST"])
@requires(Permission.AUDIT)
def export_trail() -> Any:
    """The export as ``robot audit export`` makes it, written to a private temporary file,
    sent, and removed."""
    st = state()
    fmt = request.form.get("format", "xlsx")
    robot = request.form.get("robot") or None
    if fmt not in ("csv", "xlsx") or (robot is not None and robot not in st.manifests):
        abort(400)
    try:
        filters = Filters(robot=robot, since=_moment("fra"), until=_moment("til"))
    except ValueError as exc:
        return render("exports.html", title="Eksport", robots=sorted(st.manifests),
                      message=f"Datoen kan ikke læses: {exc}"), 400  # fmt: skip
    try:
        keys, anchor = (
            reads.keys(st),
            reads.anchor(st) if st.settings.audit.file.is_file() else None,
        )
    except (ConfigError, AuditTrailError, LedgerError) as exc:
        return render("exports.html", title="Eksport", robots=sorted(st.manifests),
                      message=str(exc)), 500  # fmt: skip

    def summarize(trail: Path) -> tuple[str, str]:
        return verification_summary(trail, keys=keys, anchor=anchor)

    folder = private_dir(st.settings.data_dir / "console" / "exports")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        out = Path(tmp) / f"revisionsspor.{fmt}"
        try:
            export(st.settings.audit.file, out, fmt, filters, summarize=summarize)
        except (ExportError, AuditTrailError) as exc:
            return render("exports.html", title="Eksport", robots=sorted(st.manifests),
                          message=str(exc)), 400  # fmt: skip
        # Opened, then removed with its folder: the answer streams from the open file, and
        # nothing stays on disk (a year's trail can be large; it is not read into memory).
        handle = out.open("rb")
    stamp = st.clock().strftime("%Y%m%dT%H%M%SZ")
    log.info("%s exported the audit trail (%s, %s)", who(), fmt, filters.describe() or "all")
    return send_file(
        handle,
        as_attachment=True,
        download_name=f"revisionsspor-{stamp}.{fmt}",
        mimetype="text/csv" if fmt == "csv" else
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )  # fmt: skip
