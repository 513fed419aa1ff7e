"""`python -m bot chat`: text the running bot from a terminal, no phone needed."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from urllib.parse import quote

import requests
from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.domain import phones

SHOWN = {"accepted", "queued", "sending", "sent", "delivered", "read"}
FAILED = {"failed", "undelivered", "suppressed"}


class ChatError(Exception):
    """The chat cannot go on; the message says why, in one line."""


class ChatSession:
    """Sends signed inbound webhooks as one phone, and watches what the bot sends back."""

    def __init__(self, base_url: str, phone: str, to: str, settings: Settings) -> None:
        self.base_url = base_url.rstrip("/")
        self.phone = phone
        self.to = to
        self.settings = settings
        self.http = requests.Session()
        if settings.api_token:
            self.http.headers["Authorization"] = f"Bearer {settings.api_token}"
        self.shown: set[int] = set()

    def say(self, text: str) -> requests.Response:
        """Send `text` to the bot the way Twilio would deliver it."""
        url = f"{self.base_url}/webhooks/twilio/sms"
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.settings.account_sid,
            "From": self.phone,
            "To": self.to,
            "Body": text,
            "NumMedia": "0",
        }
        signature = RequestValidator(self.settings.auth_token).compute_signature(url, params)
        return self.http.post(url, data=params, headers={"X-Twilio-Signature": signature})

    def new_replies(self) -> list[str]:
        """Return bot messages sent (or refused) since the last call."""
        url = f"{self.base_url}/api/contacts/{quote(self.phone)}/messages"
        try:
            response = self.http.get(url, timeout=5)
        except requests.ConnectionError:
            raise ChatError(
                f"no Parley server answers at {self.base_url}: start it with make run"
            ) from None
        if response.status_code == 401:
            given = "refused the API token" if self.settings.api_token else "wants an API token"
            raise ChatError(
                f"the server at {self.base_url} {given} (401): set API_TOKEN to the server's"
            )
        if response.status_code != 200:  # 404: the contact has not texted yet
            return []
        lines = []
        for index, message in enumerate(response.json()):
            if message["direction"] != "outbound" or index in self.shown:
                continue
            if message["status"] in SHOWN:
                lines.append(message["body"])
            elif message["status"] in FAILED:
                lines.append(f"[{message['status']}] {message['body']}")
            else:
                continue
            self.shown.add(index)
        return lines


def chat(phone: str, base_url: str | None = None, to: str | None = None) -> int:
    """Run an interactive chat until end of input."""
    settings = Settings.from_env()
    try:
        phone = phones.normalize(phone, settings.default_region, strict=False)
    except phones.InvalidPhone as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    base = base_url or settings.public_url or f"http://127.0.0.1:{settings.port}"
    session = ChatSession(base, phone, to or settings.from_number or "", settings)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.3):
            try:
                for line in session.new_replies():
                    print(f"\rbot> {line}\nyou> ", end="", flush=True)
            except (requests.RequestException, ChatError):
                pass  # a server restarting mid-chat: try again on the next look

    try:
        session.new_replies()  # what was said before this chat is history, not news
    except ChatError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 1
    threading.Thread(target=watch, daemon=True).start()
    print(f"Texting {base} as {phone}. Ctrl-D to quit.")
    try:
        while True:
            text = input("you> ")
            if not text.strip():
                continue
            try:
                response = session.say(text)
            except requests.RequestException as exc:
                print(f"cannot reach Parley at {base}: {exc}")
                continue
            if response.status_code != 200:
                print(f"[{response.status_code}] {response.text.strip()}")
            time.sleep(0.05)
    except EOFError:
        time.sleep(2.0)  # input was piped: let the last replies arrive before leaving
        print()
    except KeyboardInterrupt:
        print()
    finally:
        stop.set()
    return 0
