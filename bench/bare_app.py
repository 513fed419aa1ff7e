"""The inbound baseline: a bare Flask endpoint answering Twilio's SMS webhook with empty TwiML."""

from __future__ import annotations

from flask import Flask, Response
from twilio.twiml.messaging_response import MessagingResponse


def create_app() -> Flask:
    """Create the baseline app (gunicorn calls this as 'bench.bare_app:create_app()')."""
    app = Flask("parley-bench-bare")

    @app.post("/webhooks/twilio/sms")
    def sms() -> Response:
        return Response(str(MessagingResponse()), status=200, mimetype="text/xml")

    return app
