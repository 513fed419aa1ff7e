"""The composition root: the web app factory, its gunicorn worker and the command line.

It stands above `webhooks/`, `inbox/` and `sandbox/`, which stand above `bot/`; nothing
below imports it.
"""
