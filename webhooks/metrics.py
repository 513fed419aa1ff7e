"""GET /metrics: Parley's figures in Prometheus' text format, for the whole deployment.

Prometheus scrapes without credentials unless told otherwise, so /metrics is open by
default: it shows counts, never a phone number or a message. With METRICS_TOKEN set it
wants `Authorization: Bearer $METRICS_TOKEN` (Prometheus' `authorization` setting).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from bot import metrics
from bot.runtime import Runtime

blueprint = Blueprint("metrics", __name__)

_REGISTRY = "parley.metrics"


@blueprint.record_once
def _make_registry(state: BlueprintSetupState) -> None:
    """Give the app a registry of its own that reads its runtime's figures."""
    state.app.extensions[_REGISTRY] = metrics.registry(state.app.extensions["parley"])


def _runtime() -> Runtime:
    return current_app.extensions["parley"]


def _allowed(token: str | None) -> bool:
    """Say whether the request may read the figures: any may, unless a token is set."""
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@blueprint.get("/metrics")
def scrape() -> Response:
    """Answer the figures, read from Redis now, in the format the scraper asks for.

    Prometheus' text format unless the Accept header asks for OpenMetrics, which
    Prometheus does when it can read it; the client library chooses, as its own handler.
    """
    if not _allowed(_runtime().settings.metrics_token):
        return Response(
            "Authorization: Bearer $METRICS_TOKEN required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry: CollectorRegistry = current_app.extensions[_REGISTRY]
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry), status=200, content_type=content_type)
