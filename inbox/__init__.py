"""The staff inbox: pages for people, behind a staff account's sign-in (HTTP for people).

`auth.py` signs staff in and out and guards the pages; `throttle.py` limits failed
sign-ins; `conversations.py` holds the conversation list, the thread and the actions
taken there, `timeline.py` how a thread reads; `admin.py` the pages where admins manage
staff accounts and canned replies; `analytics.py` the analytics pages, drawn with
`charts.py` and tabled (and exported as CSV) by `tables.py`. Templates and static files
live beside them.
"""

from flask import Blueprint

blueprint = Blueprint(
    "inbox",
    __name__,
    url_prefix="/inbox",
    template_folder="templates",
    static_folder="static",
)

# The modules add their routes to the blueprint as they are imported.
from inbox import admin, analytics, auth, conversations  # noqa: E402

__all__ = ["admin", "analytics", "auth", "blueprint", "conversations"]
