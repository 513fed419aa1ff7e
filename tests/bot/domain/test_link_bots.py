"""Which clicks on a tracked link count: people's, not previews', scanners' or instant ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.link_bots import counted, delivered_at, is_bot

T = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
PHONE_BROWSER = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile"


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Facebot",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0 A",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Applebot/0.1",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "Iframely/1.3.1 (+https://iframely.com/docs/about)",
        "curl/8.5.0",
        "Wget/1.21",
        "python-requests/2.31.0",
        "Barracuda Sentinel (EE)",
        "Proofpoint URL Defense",
        "Mimecast Safe Links",
        "SomeCrawler/1.0",
        "a-spider",
        "LinkPreview/2",
        "",
        "   ",
        None,
    ],
)
def test_previews_scanners_and_tools_are_bots(agent: str | None) -> None:
    assert is_bot(agent)
    assert not counted(agent, T, None)


def test_a_phone_browser_is_a_person() -> None:
    assert not is_bot(PHONE_BROWSER)
    assert counted(PHONE_BROWSER, T, None)


def test_a_click_within_a_second_of_delivery_does_not_count() -> None:
    for gap in (0.0, 0.5, 0.999, -0.5):
        assert not counted(PHONE_BROWSER, T + timedelta(seconds=gap), T), gap
    for gap in (1.0, 1.5, 60.0, -2.0):
        assert counted(PHONE_BROWSER, T + timedelta(seconds=gap), T), gap


def test_delivery_is_the_latest_sent_or_delivered_time() -> None:
    history = [
        ["pending", "2026-11-30T16:59:00+00:00"],
        ["sent", "2026-11-30T16:59:30+00:00"],
        ["delivered", "2026-11-30T17:00:00+00:00"],
        ["read", "2026-11-30T17:05:00+00:00"],
    ]
    assert delivered_at(history) == T
    assert delivered_at([["sent", "2026-11-30T17:00:00"]]) == T  # SQLite's, without a zone
    assert delivered_at([["pending", "2026-11-30T17:00:00+00:00"], ["sent", "bad"]]) is None
    assert delivered_at([]) is None
