"""The staff inbox: pages for people, behind a staff account's sign-in (HTTP for people).

`auth.py` signs staff in and out and guards the pages; `throttle.py` limits failed
sign-ins; `views.py` holds the pages. Templates and static files live beside them.
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
from inbox import auth, views  # noqa: E402

__all__ = ["auth", "blueprint", "views"]
