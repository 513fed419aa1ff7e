"""The record's tables, as SQLAlchemy Core: one MetaData that the migrations build."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

# Names for constraints and indexes that every database spells the same way, so a
# migration can refer to them (as Alembic's documentation recommends).
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# No foreign keys: rows arrive from a stream in batches, each table upserted on its own,
# and retention (`retention.py`) trims tables independently; the writer keeps them consistent.
PHONE = 20  # E.164: at most 15 digits and the plus sign
ID = 64  # message ids, MessageSids, run ids, stable event ids


def _when(name: str, nullable: bool = True) -> Column[object]:
    """Return a time column: always with its time zone, stored as UTC."""
    return Column(name, DateTime(timezone=True), nullable=nullable)


# The queryable part of a contact; its dialogue state stays in Redis.
contacts = Table(
    "contacts",
    metadata,
    Column("phone", String(PHONE), primary_key=True),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("fields", JSON, nullable=False, default=dict),
    Column("tags", JSON, nullable=False, default=list),
    Column("language", String(16)),
    Column("timezone", String(64), nullable=False),
    Column("stage", String(32)),
    Column("subscribed", Boolean, nullable=False, default=True),
    Column("handoff", Boolean, nullable=False, default=False),
    Column("handoff_reason", String(200)),
    # The conversation with staff: bot | open | snoozed | resolved, and who owns it.
    Column("conversation", String(16), nullable=False, server_default="bot"),
    Column("assignee", String(200)),
    _when("waiting_since"),  # the contact's text staff have yet to answer
    _when("snoozed_until"),
    _when("staff_at"),  # the last staff action
    Column("read_seq", Integer, nullable=False, server_default="0"),  # seen by staff
    Column("message_seq", Integer, nullable=False, server_default="0"),  # the last message
    Column("undeliverable", Integer),
    _when("created_at", nullable=False),
    _when("last_active_at"),
    # last_active_at, else created_at: what the contact list is ordered by, indexed.
    _when("active_at"),
    _when("updated_at", nullable=False),
    Index(None, "last_active_at"),
    Index(None, "handoff", "last_active_at"),
    Index(None, "active_at", "phone"),
    Index(None, "handoff", "active_at", "phone"),
    Index(None, "conversation", "active_at", "phone"),  # the inbox's views
    Index(None, "assignee", "conversation", "active_at", "phone"),  # "Mine"
    Index(None, "conversation", "waiting_since"),  # how many wait, counted in the index
)

# Every message either way, with where its status has been.
messages = Table(
    "messages",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("phone", String(PHONE), nullable=False),
    Column("direction", String(8), nullable=False),  # inbound | outbound
    Column("body", Text, nullable=False),
    Column("kind", String(16)),  # conversation | marketing | transactional | compliance
    Column("journey", String(100)),
    Column("step", String(100)),
    Column("status", String(16), nullable=False),
    Column("status_history", JSON, nullable=False, default=list),  # [[status, at], ...]
    Column("reason", String(100)),  # why a guardrail suppressed it
    Column("sid", String(ID), unique=True),
    Column("error_code", Integer),
    Column("segments", Integer),
    # Its place in the contact's conversation (0 for messages made before it was kept).
    Column("seq", Integer, nullable=False, server_default="0"),
    Column("author", String(200)),  # the staff member who wrote it
    _when("send_at"),  # when a deferred message goes out (quiet hours, a frequency cap)
    _when("clicked_at"),  # the first counted click on one of its tracked links
    _when("created_at", nullable=False),
    _when("updated_at", nullable=False),
    # A contact's history, page by page, newest first: (phone, seq, created_at, id).
    Index(None, "phone", "seq", "created_at", "id"),
    Index(None, "journey", "step", "created_at"),
    # Everyone's, page by page, oldest first (export), and what retention trims.
    Index(None, "created_at", "seq", "id"),
)

# What happened in a conversation: intents, journey events, consent, staff actions.
conversation_events = Table(
    "conversation_events",
    metadata,
    Column("id", String(ID), primary_key=True),  # stable, so a replay upserts
    Column("phone", String(PHONE), nullable=False),
    Column("type", String(40), nullable=False),
    _when("at", nullable=False),
    Column("intent", String(40)),
    Column("confidence", Float),
    Column("journey", String(100)),
    Column("run_id", String(ID)),
    Column("data", JSON, nullable=False, default=dict),
    # Its place in the contact's event log (0 for events logged before it was kept).
    Column("seq", Integer, nullable=False, server_default="0"),
    Index(None, "phone", "at"),
    Index(None, "phone", "seq"),
    Index(None, "type", "at"),
    Index(None, "at", "seq", "id"),  # export's pages and retention
)

# Each journey run: when it started, the steps it passed, when and why it ended.
journey_runs = Table(
    "journey_runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("phone", String(PHONE), nullable=False),
    Column("journey", String(100), nullable=False),
    Column("key", String(200)),  # what the run is about (a booking id), if anything
    Column("event_id", String(ID)),
    Column("status", String(16), nullable=False),
    Column("step", String(100)),
    Column("steps", JSON, nullable=False, default=list),  # the steps passed, in order
    Column("variant", String(100)),  # the A/B arm it took, if it met a split
    Column("splits", JSON, nullable=False, default=dict),  # {split step: arm taken}
    Column("goals", JSON, nullable=False, default=list),  # [[goal, when reached], ...]
    _when("started_at", nullable=False),
    _when("ended_at"),
    Column("end_reason", String(200)),
    _when("updated_at", nullable=False),
    Index(None, "journey", "started_at"),
    Index(None, "phone", "started_at"),
    Index(None, "ended_at"),  # retention
)

# Every consent decision with its evidence; rows are only ever added.
consent_ledger = Table(
    "consent_ledger",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("phone", String(PHONE), nullable=False),
    Column("purpose", String(32), nullable=False),  # marketing | transactional
    Column("granted", Boolean, nullable=False),
    Column("method", String(32), nullable=False),  # bot.domain.consent.Method
    Column("source", String(200)),  # MessageSid, request id, staff member
    Column("evidence", Text),  # the raw message or request
    Column("disclosure", Text),  # what the person agreed to
    _when("at", nullable=False),
    # The decision's place in its contact's event log: decisions of one transition share
    # their time (a STOP revokes every purpose at once), and this orders them.
    Column("seq", Integer, nullable=False, server_default="0"),
    Index(None, "phone", "at"),
    Index(None, "at", "seq", "id"),  # export's pages
)

# Tracked short links, one per message and link: what /l/<code> leads to once Redis has
# let the link go (LINK_TTL_DAYS), and what a click is counted against.
links = Table(
    "links",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("phone", String(PHONE), nullable=False),
    Column("message_id", String(ID), nullable=False),
    Column("journey", String(100)),
    Column("step", String(100)),
    _when("created_at", nullable=False),
    Index(None, "message_id"),
    Index(None, "journey", "step"),
)

# Tracked link clicks; bots and previews are kept but flagged.
link_clicks = Table(
    "link_clicks",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("phone", String(PHONE), nullable=False),
    Column("message_id", String(ID)),
    Column("journey", String(100)),
    Column("step", String(100)),
    Column("url", Text, nullable=False),
    Column("user_agent", Text),
    Column("counted", Boolean, nullable=False, default=True),
    _when("at", nullable=False),
    Index(None, "journey", "at"),
    Index(None, "code"),
    Index(None, "at"),  # retention
)

# Business events credited to a journey message.
conversions = Table(
    "conversions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("phone", String(PHONE), nullable=False),
    Column("event", String(100), nullable=False),
    Column("journey", String(100)),
    Column("step", String(100)),
    Column("message_id", String(ID)),
    Column("total", Numeric(18, 4)),  # as the event gave it, to a ten-thousandth
    Column("currency", String(3)),
    _when("at", nullable=False),
    Index(None, "journey", "at"),
)

# Analytics rollups (bot/record/rollups.py): each journey's figures, summed per day in
# the business's time zone as the record is written, so a page reads days, not rows.
# `value` is a count, or for revenue an amount in ten-thousandths of its currency unit.
journey_counts = Table(
    "journey_counts",
    metadata,
    Column("journey", String(100), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("metric", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),  # a step, a goal, a currency, or ""
    Column("value", BigInteger, nullable=False),
)

# People who sign in to the staff inbox (bot/staff); the email is kept lower-cased.
staff = Table(
    "staff",
    metadata,
    Column("email", String(254), primary_key=True),
    Column("name", String(200)),
    Column("role", String(16), nullable=False),  # admin | agent
    Column("password_hash", String(255), nullable=False),  # argon2id, with its parameters
    _when("created_at", nullable=False),
    _when("signed_in_at"),
)

# Saved answers staff can send from the inbox.
canned_replies = Table(
    "canned_replies",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    _when("updated_at", nullable=False),
    Column("updated_by", String(254)),  # a staff email
)
