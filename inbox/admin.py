"""Pages for admins: staff accounts and canned replies (agents may read the replies).

Like the rest of the inbox, every change is a form that posts (with its CSRF token) and
redirects; a form sent back with a mistake keeps what was typed, except a password.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug import exceptions as http

from bot.runtime import Runtime
from bot.staff.accounts import ROLES, Staff, StaffError, normalize_email
from bot.staff.canned import LONGEST_BODY, LONGEST_TITLE, CannedReplies, CannedReply
from inbox import blueprint
from inbox.auth import accounts, current_staff, signed_in

P = ParamSpec("P")
R = TypeVar("R")


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


def _me() -> Staff:
    staff = current_staff()
    assert staff is not None, "pages are signed_in"
    return staff


def _canned() -> CannedReplies:
    return CannedReplies(_runtime().record, clock=_runtime().clock)


def admin_only(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
    """Let only signed-in admins use `view`; an agent gets a 403 page saying so."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        if _me().role != "admin":
            return render_template("inbox/forbidden.html"), 403
        return view(*args, **kwargs)

    return signed_in(guarded)


def _sentence(text: str) -> str:
    """Return an error message as the pages show it: capitalized, with a full stop."""
    if "@" not in text.split(" ", 1)[0]:  # an email stays as it was typed
        text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def removal_refused(me: Staff, email: str, team: list[Staff]) -> str | None:
    """Say why `me` may not remove the account `email`, or None if they may."""
    email = normalize_email(email)
    target = next((member for member in team if member.email == email), None)
    if target is None:
        return f"{email} has no account."
    if target.email == me.email:
        # Nobody signs themselves out for good: another admin has to do it.
        return "You cannot remove your own account."
    if target.role == "admin" and sum(member.role == "admin" for member in team) <= 1:
        return "The last admin cannot be removed: nobody could manage staff then."
    return None


@blueprint.get("/staff")
@admin_only
def staff_list() -> ResponseReturnValue:
    """Show every staff account and a form to add one."""
    return _staff_page({"email": "", "name": "", "role": "agent"})


def _staff_page(typed: dict[str, str], error: str | None = None) -> str:
    return render_template(
        "inbox/staff.html", team=accounts().list(), roles=ROLES, typed=typed, error=error
    )


@blueprint.post("/staff")
@admin_only
def staff_add() -> ResponseReturnValue:
    """Add an account from the form, or show the form again with what is wrong."""
    typed = {
        "email": request.form.get("email", "").strip()[:254],
        "name": request.form.get("name", "").strip()[:200],
        "role": request.form.get("role", "agent"),
    }
    password = request.form.get("password", "")
    try:
        added = accounts().add(typed["email"], password, name=typed["name"], role=typed["role"])
    except StaffError as exc:
        return _staff_page(typed, _sentence(str(exc))), 400
    flash(f"Added {added.email} ({added.role}).")
    return redirect(url_for("inbox.staff_list"))


@blueprint.post("/staff/remove")
@admin_only
def staff_remove() -> ResponseReturnValue:
    """Remove the account named in the form, unless it is the admin's own or the last admin's."""
    email = normalize_email(request.form.get("email", ""))
    refused = removal_refused(_me(), email, accounts().list())
    if refused:
        flash(refused, "error")
    elif accounts().remove(email):
        flash(f"Removed {email}; their sessions have ended.")
    return redirect(url_for("inbox.staff_list"))


@blueprint.get("/canned")
@signed_in
def canned_list() -> str:
    """Show the canned replies; admins also get the forms to change them."""
    return _canned_page({"title": "", "body": ""})


def _canned_page(typed: dict[str, str], error: str | None = None) -> str:
    return render_template(
        "inbox/canned.html", replies=_canned().list(), typed=typed, error=error, **_limits()
    )


def _limits() -> dict[str, int]:
    return {"title_limit": LONGEST_TITLE, "body_limit": LONGEST_BODY}


def _typed_reply() -> dict[str, str]:
    # Cut at twice the limit: long enough to say "too long", short enough to echo back.
    return {
        "title": request.form.get("title", "")[: 2 * LONGEST_TITLE],
        "body": request.form.get("body", "")[: 2 * LONGEST_BODY],
    }


@blueprint.post("/canned")
@admin_only
def canned_add() -> ResponseReturnValue:
    """Save a new canned reply from the form, or show the form again with what is wrong."""
    typed = _typed_reply()
    try:
        added = _canned().add(typed["title"], typed["body"], by=_me().email)
    except ValueError as exc:
        return _canned_page(typed, _sentence(str(exc))), 400
    flash(f"Added the canned reply “{added.title}”.")
    return redirect(url_for("inbox.canned_list"))


def _reply(reply_id: str) -> CannedReply:
    found = _canned().get(reply_id)
    if found is None:
        raise http.NotFound("no such canned reply")
    return found


@blueprint.get("/canned/<reply_id>/edit")
@admin_only
def canned_edit(reply_id: str) -> ResponseReturnValue:
    """Show the form to change one canned reply."""
    reply = _reply(reply_id)
    typed = {"title": reply.title, "body": reply.body}
    return render_template("inbox/canned_edit.html", reply=reply, typed=typed, **_limits())


@blueprint.post("/canned/<reply_id>/edit")
@admin_only
def canned_update(reply_id: str) -> ResponseReturnValue:
    """Save the changed canned reply, or show the form again with what is wrong."""
    reply = _reply(reply_id)
    typed = _typed_reply()
    try:
        changed = _canned().update(reply.id, typed["title"], typed["body"], by=_me().email)
    except ValueError as exc:
        page = render_template(
            "inbox/canned_edit.html",
            reply=reply,
            typed=typed,
            error=_sentence(str(exc)),
            **_limits(),
        )
        return page, 400
    if changed is None:
        raise http.NotFound("no such canned reply")  # deleted meanwhile
    flash(f"Saved the canned reply “{changed.title}”.")
    return redirect(url_for("inbox.canned_list"))


@blueprint.post("/canned/<reply_id>/delete")
@admin_only
def canned_delete(reply_id: str) -> ResponseReturnValue:
    """Delete one canned reply."""
    reply = _reply(reply_id)
    if _canned().remove(reply.id):
        flash(f"Deleted the canned reply “{reply.title}”.")
    return redirect(url_for("inbox.canned_list"))


@blueprint.app_template_filter("utc_time")
def utc_time(value: datetime | None) -> str:
    """Show a time from the record in UTC, as the admin pages list them."""
    return value.strftime("%b %-d %Y, %H:%M UTC") if value else "never"


@blueprint.context_processor
def canned_menu() -> dict[str, Any]:
    """Give inbox templates the canned replies, read only when a template asks for them."""
    return {"canned_replies": lambda: _canned().list()}
