"""When the web worker deems a request arrived, so that a thread may serve it."""

from __future__ import annotations

import pytest

from parley.webworker import MAX_BODY, MAX_HEAD, ArrivingRequest


def arrivals(*parts: bytes) -> list[bool]:
    """Feed `parts` one read at a time; return whether the request was complete after each."""
    request = ArrivingRequest(deadline=0.0)
    seen = []
    for part in parts:
        request.data += part
        seen.append(request.complete())
    return seen


def test_a_head_without_a_body_is_complete_at_its_blank_line() -> None:
    assert arrivals(b"GET /healthz HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n") == [False, False, True]


def test_a_body_is_awaited_to_its_content_length() -> None:
    head = b"POST /webhooks/twilio/sms HTTP/1.1\r\ncontent-length: 7\r\n\r\n"
    assert arrivals(head, b"Body=h", b"i") == [False, False, True]


def test_a_chunked_body_is_awaited_to_its_last_chunk_and_trailers() -> None:
    head = b"POST /api/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert arrivals(head, b"5\r\nhel", b"lo\r\n3;x=y\r\nabc\r\n0\r", b"\n", b"\r\n") == [
        False,
        False,
        False,
        False,
        True,
    ]
    assert arrivals(head + b"0\r\nX-Checksum: 1\r\n", b"\r\n") == [False, True]


def test_a_client_awaiting_100_continue_is_told_to_send_its_body() -> None:
    request = ArrivingRequest(deadline=0.0)
    request.data += b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    assert not request.complete() and request.wants_continue
    request.data += b"abc"
    assert request.complete()
    http10 = ArrivingRequest(deadline=0.0)
    http10.data += b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    assert not http10.complete() and not http10.wants_continue


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1),
    ],
)
def test_what_the_parser_or_the_app_refuses_goes_to_them_at_once(head: bytes) -> None:
    assert arrivals(head) == [True]


def test_an_endless_head_goes_to_the_parser_once_too_long() -> None:
    assert arrivals(b"GET / HTTP/1.1\r\nX-Padding: ", b"a" * MAX_HEAD) == [False, True]
