"""The conversation list and the thread: what staff read, and the actions they take there.

Pages are plain forms that post and redirect, so they work without JavaScript; inbox.js
adds live updates (from the record's feed), the keyboard and the segment counter.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import redis
from flask import (
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug import exceptions as http
from werkzeug.wrappers import Response as Redirect

from bot import history
from bot.conversation.staffing import NOTE_LIMIT, REFUSALS, REPLY_LIMIT, Refused
from bot.domain import phones
from bot.domain.contacts import Contact
from bot.domain.guardrails import refusal
from bot.domain.messages import Kind
from bot.record import conversations
from bot.record.conversations import VIEWS
from bot.runtime import Runtime
from bot.staff.accounts import Staff, StaffAccounts
from bot.storage import keys
from bot.storage.store import LockLost
from flows import sms
from flows.engine import expecting
from flows.links import short_link_length
from inbox import blueprint
from inbox.auth import current_staff, signed_in
from inbox.timeline import timeline

PAGE = 25  # conversations per page
THREAD = 100  # messages a thread shows at first
FEED_READ = 500  # feed entries one poll reads; a page further behind catches up over polls
SNOOZES = {
    "1h": ("an hour", timedelta(hours=1)),
    "4h": ("4 hours", timedelta(hours=4)),
    "1d": ("tomorrow", timedelta(days=1)),
    "1w": ("a week", timedelta(weeks=1)),
}


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


def _me() -> str:
    staff = current_staff()
    assert staff is not None, "pages are signed_in"
    return staff.email


def _view() -> str:
    view = request.args.get("view", "waiting")
    if view not in VIEWS:
        raise http.NotFound(f"no view {view!r}")
    return view


def _page(view: str) -> conversations.Page:
    try:
        return conversations.conversation_page(
            _runtime().record,
            view,
            _me(),
            PAGE,
            request.args.get("cursor") or None,
            (request.args.get("q") or "").strip() or None,
        )
    except ValueError as exc:
        raise http.BadRequest(str(exc)) from None


def _list_context(view: str) -> dict[str, Any]:
    return {
        "view": view,
        "views": VIEWS,
        "page": _page(view),
        "counts": conversations.counts(_runtime().record, _me()),
        "q": request.args.get("q", ""),
        "now": _runtime().clock(),
    }


@blueprint.get("/")
@signed_in
def conversation_list() -> str:
    """Show a view of the conversations, most recently active first."""
    return render_template("inbox/list.html", **_list_context(_view()))


@blueprint.get("/rows")
@signed_in
def conversation_rows() -> str:
    """Return the list's rows alone, for the page to refresh in place."""
    return render_template("inbox/_rows.html", **_list_context(_view()))


def _contact(raw_phone: str) -> Contact:
    runtime = _runtime()
    try:
        phone = phones.normalize(raw_phone, runtime.settings.default_region)
    except phones.InvalidPhone as exc:
        raise http.NotFound(str(exc)) from None
    contact = runtime.store.load_contact(phone)
    if contact is None:
        raise http.NotFound(f"no contact with phone {phone}")
    return contact


def _thread_context(contact: Contact, before: str | None = None) -> dict[str, Any]:
    runtime = _runtime()
    try:
        messages = runtime.history.messages(contact.phone, THREAD, before)
    except history.UnknownMessage:
        raise http.NotFound("no such message in this conversation") from None
    events = runtime.history.events(contact.phone, history.LONGEST_PAGE, None)
    runs = contact.open_runs()
    run = runs[-1] if runs else None
    journey = runtime.journeys.get(run.journey) if run else None
    return {
        "me": _me(),
        "contact": contact,
        "items": timeline(messages, events, latest=before is None),
        "local_time": _runtime().clock().astimezone(ZoneInfo(contact.timezone)),
        "run": run,
        "expecting": sorted(expecting(run, journey)) if run and journey else [],
        "refusal": _refusal(contact),
        "reply_limit": REPLY_LIMIT,
        "note_limit": NOTE_LIMIT,
        "snoozes": SNOOZES,
        "team": _staff(),
        "gsm_basic": "".join(sorted(sms.GSM_BASIC)),
        "gsm_extended": "".join(sorted(sms.GSM_EXTENDED)),
        # With "Track links" ticked, the count takes each link as long as its short link.
        "short_link_length": short_link_length(_runtime().settings.link_base),
        "last_seq": contact.message_seq,
        # A full page may have earlier messages before it: they are a link away.
        "earlier": messages[0]["id"] if len(messages) == THREAD else None,
        "paged": before is not None,
    }


def _mark_read(contact: Contact) -> None:
    """Note that staff have seen the thread; a contact busy this instant is marked next time."""
    if contact.message_seq > contact.read_seq:
        with suppress(LockLost):
            _runtime().desk.mark_read(contact.phone, contact.message_seq)


def _staff() -> list[Staff]:
    """Return every staff account, for the Assign menu."""
    return StaffAccounts(_runtime().record).list()


def _refusal(contact: Contact) -> str | None:
    blocked = refusal(contact, Kind.CONVERSATION)
    return REFUSALS.get(blocked, blocked) if blocked else None


@blueprint.app_template_filter("local")
def local(value: str | None, contact: Contact) -> str:
    """Show an ISO-8601 time in the contact's time zone, as staff read it."""
    if not value:
        return ""
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(ZoneInfo(contact.timezone)).strftime("%b %-d, %H:%M")


@blueprint.app_template_filter("duration")
def duration(seconds: float) -> str:
    """Show a span of time the way people say it: 45s, 12 min, 3 h, 2 d."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d"


@blueprint.before_request
def mark_the_feed() -> None:
    """Note the feed's position before a page reads the record, for its script to go on from.

    A batch written while the page is made, or before its script first asks, is then
    still news to it: starting from the feed's newest entry instead would miss it.
    """
    if request.method == "GET" and request.endpoint not in ("inbox.feed", "inbox.static"):
        with suppress(redis.exceptions.RedisError):  # the script then starts where it can
            g.feed_mark = _changed_since(_runtime().redis, "$")[0]


@blueprint.app_context_processor
def inbox_globals() -> dict[str, Any]:
    """Give every page the helpers its templates call."""
    return {
        "waited": conversations.waited,
        "waiting_now": _waiting_now,
        "feed_mark": g.get("feed_mark"),
    }


def _waiting_now() -> int:
    return conversations.waiting_count(_runtime().record)


@blueprint.get("/c/<raw_phone>")
@signed_in
def thread(raw_phone: str) -> str:
    """Show one conversation beside the list, and mark it read."""
    contact = _contact(raw_phone)
    view = request.args.get("view", "all")
    if view not in VIEWS:
        view = "all"
    before = request.args.get("before") or None
    context = {**_list_context(view), **_thread_context(contact, before)}
    _mark_read(contact)
    return render_template("inbox/thread.html", **context)


@blueprint.get("/c/<raw_phone>/timeline")
@signed_in
def thread_timeline(raw_phone: str) -> str:
    """Return the thread's messages and the contact panel alone, to refresh in place."""
    contact = _contact(raw_phone)
    _mark_read(contact)
    return render_template("inbox/_thread.html", **_thread_context(contact))


def _back(contact: Contact) -> Redirect:
    view = request.form.get("view") or request.args.get("view") or "all"
    return redirect(url_for("inbox.thread", raw_phone=contact.phone, view=view))


def _act(raw_phone: str, action: str) -> Redirect:
    contact = _contact(raw_phone)
    desk, me = _runtime().desk, _me()
    try:
        if action == "take-over":
            desk.take_over(contact.phone, me)
        elif action == "hand-back":
            desk.hand_back(contact.phone, me)
        elif action == "resolve":
            desk.resolve(contact.phone, me)
        elif action == "reply":
            tracked = request.form.get("track_links") == "1"  # the "Track links" box
            desk.reply(contact.phone, me, request.form.get("body", ""), track_links=tracked)
        elif action == "note":
            desk.note(contact.phone, me, request.form.get("text", ""))
        elif action == "snooze":
            choice = SNOOZES.get(request.form.get("for", ""))
            if choice is None:
                raise Refused("Choose how long to snooze for.")
            desk.snooze(contact.phone, me, _runtime().clock() + choice[1])
        elif action == "keep-opt-out":
            desk.keep_opt_out(contact.phone, me)
        elif action == "undo-opt-out":
            desk.undo_opt_out(contact.phone, me)
        elif action == "assign":
            to = request.form.get("to") or None
            known = {member.email for member in _staff()}
            if to is not None and to not in known:
                raise Refused("Assign to a staff member who has an account.")
            desk.assign(contact.phone, me, to)
        else:
            raise http.NotFound(f"no action {action!r}")
    except Refused as exc:
        flash(str(exc), "error")
        if action in ("reply", "note"):  # keep what they typed
            flash(request.form.get("body") or request.form.get("text") or "", action)
    return _back(contact)


@blueprint.post("/c/<raw_phone>/<action>")
@signed_in
def act(raw_phone: str, action: str) -> Redirect:
    """Take an action on a conversation, then show it again."""
    return _act(raw_phone, action)


@blueprint.get("/feed")
@signed_in
def feed() -> Response:
    """Say which conversations changed since `after` (a feed id), and how many wait.

    The recorder adds an entry for each batch it writes (keys.RECORD_FEED); pages ask
    every few seconds and refresh what changed.
    """
    after = request.args.get("after") or "$"
    try:
        last, changed = _changed_since(_runtime().redis, after)
    except redis.exceptions.ResponseError:
        raise http.BadRequest("after must be an id the feed gave") from None
    # Counting is a query on the record: only when something changed (or on the first ask).
    fresh = after == "$" or bool(changed)
    waiting = conversations.waiting_count(_runtime().record) if fresh else None
    return jsonify({"last": last, "changed": changed, "waiting": waiting})


def _changed_since(client: redis.Redis, after: str) -> tuple[str, list[str]]:
    """Return the feed's newest id and the phones changed after `after` ("$": none yet)."""
    Entries = list[tuple[str, dict[str, str]]]
    if after == "$":
        newest = cast(Entries, client.xrevrange(keys.RECORD_FEED, count=1))
        return (newest[0][0] if newest else "0-0"), []
    entries = cast(Entries, client.xrange(keys.RECORD_FEED, f"({after}", count=FEED_READ))
    last = entries[-1][0] if entries else after
    return last, sorted({phone for _, fields in entries for phone in fields["p"].split()})
