"""Signing staff in and out, and the guard that keeps the inbox's pages theirs.

Only the session cookie counts here: the API's bearer token opens nothing in the inbox.
A session names the account and when it was created, and is re-read from the record on
every request, so removing an account (or removing it and adding it again) ends its
sessions at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from bot.runtime import Runtime
from bot.staff import Staff, StaffAccounts
from bot.staff.accounts import normalize_email
from inbox import blueprint
from inbox.throttle import SignInThrottle

SESSION_LIFETIME = timedelta(hours=12)  # a working day; then sign in again
WRONG = "Wrong email or password"

P = ParamSpec("P")
R = TypeVar("R")


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


def accounts() -> StaffAccounts:
    """Return this app's staff accounts (one per app: it keeps a hash for unknown emails)."""
    found = current_app.extensions.get("parley.staff")
    if found is None:
        found = current_app.extensions["parley.staff"] = StaffAccounts(_runtime().record)
    return found


def current_staff() -> Staff | None:
    """Return who is signed in on this request, or None; a stale session is cleared."""
    if "staff" in g:
        return g.staff
    staff = _from_session()
    if staff is None and "staff" in session:
        session.clear()
    g.staff = staff
    return staff


def _from_session() -> Staff | None:
    email, since, at = session.get("staff"), session.get("since"), session.get("at")
    if not (isinstance(email, str) and isinstance(since, str) and isinstance(at, (int, float))):
        return None
    if _now().timestamp() - at > SESSION_LIFETIME.total_seconds():
        return None
    staff = accounts().get(email)
    if staff is None or staff.created_at.isoformat() != since:
        return None  # removed, or removed and added again: an old cookie opens nothing
    return staff


def _now() -> datetime:
    return datetime.now(UTC)


def signed_in(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
    """Let only signed-in staff see `view`: pages go to sign-in, scripts get a 401."""

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        if current_staff() is not None:
            return view(*args, **kwargs)
        if _from_script():
            return Response("Sign in first\n", 401, mimetype="text/plain")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("inbox.sign_in", next=target))

    return guarded


def _from_script() -> bool:
    """Say whether the request came from a page's script (fetch or XHR), not a navigation."""
    mode = request.headers.get("Sec-Fetch-Mode")
    xhr = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    return xhr or mode in ("cors", "same-origin", "no-cors")


def local_next(target: str | None) -> str:
    """Return where to go after signing in: `target` if it is an inbox page here, else the inbox."""
    fallback = url_for("inbox.conversation_list")
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return fallback  # another site: the link someone sent would lead staff away
    if ".." in parts.path.split("/"):
        return fallback  # /inbox/../api is not an inbox page once the browser resolves it
    prefix = blueprint.url_prefix or "/inbox"
    if parts.path != prefix and not parts.path.startswith(prefix + "/"):
        return fallback
    return target


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """Show the sign-in form, or sign in with what it sent."""
    target = local_next(request.values.get("next"))
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(target)
        return render_template("inbox/sign_in.html", next=target, email="")
    email = normalize_email(request.form.get("email", ""))[:254]
    password = request.form.get("password", "")
    throttle = SignInThrottle(_runtime().redis)
    address = request.remote_addr or "unknown"
    wait = throttle.wait(email, address)
    if wait:
        return _too_many(wait, target, email)
    staff = accounts().authenticate(email, password) if email and password else None
    if staff is None:
        throttle.failed(email, address)
        # Which of the two was wrong is not said: that would tell who has an account.
        return render_template("inbox/sign_in.html", next=target, email=email, error=WRONG), 200
    throttle.succeeded(email)
    session.clear()  # nothing from before signing in carries over
    session.permanent = True
    session["staff"] = staff.email
    session["since"] = staff.created_at.isoformat()
    session["at"] = _now().timestamp()
    return redirect(target)


def _too_many(wait: int, target: str, email: str) -> ResponseReturnValue:
    minutes = max(1, -(-wait // 60))
    until = (_now() + timedelta(seconds=wait)).strftime("%H:%M UTC")
    message = (
        f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}"
        f" (after {until})."
    )
    body = render_template("inbox/sign_in.html", next=target, email=email, error=message)
    return body, 429, {"Retry-After": str(wait)}


@blueprint.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    """End the session and go back to the sign-in form."""
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("inbox.sign_in"))


@blueprint.context_processor
def signed_in_staff() -> dict[str, Staff | None]:
    """Give every inbox template who is signed in (the header names them)."""
    return {"staff": current_staff()}


@blueprint.after_request
def page_headers(response: Response) -> Response:
    """Keep inbox pages out of other sites' frames and out of shared caches."""
    # Framed by another site, a page's buttons could be clicked unknowingly.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        # Pages show contacts' messages: no browser or proxy keeps a copy.
        response.headers["Cache-Control"] = "no-store"
    return response
