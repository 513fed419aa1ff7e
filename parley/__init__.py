"""The composition root: the web app factory, its gunicorn worker class and the command line.

It stands above `webhooks/` and `sandbox/` (and the staff inbox's `inbox/`, when it lands),
which stand above `bot/`. Only `python -m bot`, the documented entry point, reaches up to
it, to hand over to `parley.cli`.
"""
