"""The app factory: the one place where the bot, its webhooks and its pages meet."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Request, Response, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

import inbox
import nlu
from bot.record.drain import lag
from bot.runtime import Runtime, current
from bot.storage import keys
from bot.storage.store import LockLost
from inbox.auth import SESSION_LIFETIME, current_staff
from webhooks import (  # noqa: F401 (staff_api, campaigns_api and analytics_api add to api)
    analytics_api,
    api,
    campaigns_api,
    links,
    metrics,
    staff_api,
    twilio,
)
from webhooks.forms import WebRequest

log = logging.getLogger(__name__)


class PageSessions(SecureCookieSessionInterface):
    """Cookie sessions for pages people use; machines' requests never need one."""

    machine_paths = ("/webhooks/", "/api/", "/healthz", "/metrics", "/l/")

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Open the session, except on webhooks and the API (Flask then uses a null one)."""
        if request.path.startswith(self.machine_paths):
            return None
        return super().open_session(app, request)


def create_app(runtime: Runtime | None = None) -> Flask:
    """Create the Parley web app (gunicorn calls this with no arguments)."""
    runtime = runtime or current()
    nlu.prepare()  # train the classifier now, not on the first free-text reply
    app = Flask("parley")
    app.config["SECRET_KEY"] = runtime.settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # no webhook or API call needs more
    # The inbox's session cookie: out of scripts' reach, not sent with other sites' forms,
    # and only over HTTPS when Parley is served over it.
    app.config["SESSION_COOKIE_NAME"] = "parley_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = (runtime.settings.public_url or "").startswith("https:")
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    # A form's CSRF token lasts as long as the session it belongs to.
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    app.session_interface = PageSessions()
    app.extensions["parley"] = runtime
    proxies = runtime.settings.trusted_proxies
    if proxies:
        # Believe X-Forwarded-* only from the proxies we run: anyone can send those headers.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=proxies,
            x_proto=proxies,
            x_host=proxies,
            x_port=proxies,
            x_prefix=proxies,
        )

    app.request_class = WebRequest
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(links.blueprint)
    app.register_blueprint(inbox.blueprint)
    # Every form and action of the inbox needs its CSRF token. Machines' routes carry no
    # cookie to abuse: Twilio signs its requests and the API takes a bearer token.
    csrf = CSRFProtect()
    csrf.exempt(twilio.blueprint)
    csrf.exempt(api.blueprint)
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def form_refused(exc: CSRFError) -> ResponseReturnValue:
        log.info("form refused: %s", exc.description)
        if request.endpoint != "inbox.sign_in" and current_staff() is None:
            # Signed out (or the session ran out) since the page was loaded: nothing was
            # done; sign in again rather than read about tokens.
            return redirect(url_for("inbox.sign_in"))
        text = (
            "This form has expired or did not come from this site:"
            " go back, reload the page and try again.\n"
        )
        return Response(text, 400, mimetype="text/plain")

    @app.before_request
    def prepare_storage() -> None:
        # Redis may have been down when this process started: its data is checked first.
        # A short link leads on without it (from the record), and touches no old keys.
        if request.blueprint != links.blueprint.name:
            runtime.prepare_storage()

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            behind = lag(runtime.redis, keys.RECORD)
        except redis.exceptions.RedisError as exc:
            # The error names Redis' host and port: the log may know them, callers may not.
            log.error("health check: Redis unavailable: %s", exc)
            return jsonify({"status": "unavailable", "error": "storage unavailable"}), 503
        # How far the record (SQL) is behind Redis: what the recorder has yet to copy.
        # `dead`: entries the record refused, set aside in parley:{record}:dead for a person.
        record = {"behind": behind.entries, "lag_s": round(behind.seconds, 3), "dead": behind.dead}
        return jsonify({"status": "ok", "record": record}), 200

    @app.errorhandler(LockLost)
    def contact_busy(exc: LockLost) -> tuple[Response, int]:
        # Nothing was saved; Twilio and API clients can try again.
        log.warning("%s", exc)
        return jsonify({"error": "contact busy, try again"}), 503

    @app.errorhandler(redis.exceptions.RedisError)
    def redis_down(exc: redis.exceptions.RedisError) -> tuple[Response, int]:
        # Nothing of the request was saved, so a retry of it starts afresh.
        log.error("Redis unavailable: %s", exc)
        return jsonify({"error": "storage unavailable, try again"}), 503

    return app
