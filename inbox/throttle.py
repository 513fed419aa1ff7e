"""Limits on failed sign-ins, counted in Redis so every web process shares them."""

from __future__ import annotations

import math

import redis

from bot.storage import keys

WINDOW_S = 15 * 60  # failures count for this long after the first of them
PER_ACCOUNT = 5  # failures per staff account in the window: slows guessing one password
PER_ADDRESS = 20  # failures per client address in the window: slows trying many accounts


class SignInThrottle:
    """Counts failed sign-ins per account and per client address, and says when to wait."""

    def __init__(self, redis_client: redis.Redis) -> None:
        self.redis = redis_client

    def wait(self, email: str, address: str) -> int:
        """Return the seconds until this account may be tried from this address (0: now)."""
        account, client = (
            keys.signin_failures_for_account(email),
            keys.signin_failures_from(address),
        )
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(account)
        pipe.pttl(account)
        pipe.get(client)
        pipe.pttl(client)
        account_count, account_ttl, client_count, client_ttl = pipe.execute()
        waits = [0]
        if int(account_count or 0) >= PER_ACCOUNT:
            waits.append(_seconds(account_ttl))
        if int(client_count or 0) >= PER_ADDRESS:
            waits.append(_seconds(client_ttl))
        return max(waits)

    def failed(self, email: str, address: str) -> None:
        """Count a failed sign-in against the account and the address."""
        # No MULTI: the two keys may live in different Cluster slots, and each count
        # stands alone. The window starts at the first failure; INCR keeps the expiry.
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.signin_failures_for_account(email), keys.signin_failures_from(address)):
            pipe.set(key, 0, ex=WINDOW_S, nx=True)
            pipe.incr(key)
        pipe.execute()

    def succeeded(self, email: str) -> None:
        """Forget the account's failures: its owner knows the password."""
        self.redis.delete(keys.signin_failures_for_account(email))


def _seconds(pttl: int) -> int:
    """Return a key's remaining life in whole seconds, rounded up (a key without one: a window)."""
    return math.ceil(pttl / 1000) if pttl > 0 else WINDOW_S
