"""Rate limits per IP, per user, per project and on sign-in, with the `limits` library.

Moving windows (exactly N requests in any window, no burst at a window's edge). The
counters live in this process (embedded shape) or in Redis when ``JEEX_REDIS_URL`` is set,
so that every replica of the API draws on the same budget. A refused request is a 429 with
``Retry-After``, ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` and
the uniform error body; an allowed one carries the ``RateLimit-*`` headers of its tightest
limit. When Redis cannot be reached the request is let through and a warning is logged:
an outage of the counters must not become an outage of the API.

The client's address is the TCP peer's. ``X-Forwarded-For`` is read only when the peer is
one of ``JEEX_TRUSTED_PROXIES``, and then its right-most address that is not a trusted
proxy is the client (the left part of that header is whatever the client wrote).
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Literal

import structlog
from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from jeex import metrics
from jeex.config import Settings
from jeex.errors import RateLimited

log = structlog.get_logger(__name__)

Scope = Literal["ip", "user", "project", "signin_ip", "signin_account"]
#: What each scope counts, for the 429's sentence.
_WHAT: dict[Scope, str] = {
    "ip": "requests from your address",
    "user": "requests of this account",
    "project": "requests on this project",
    "signin_ip": "sign-in attempts from your address",
    "signin_account": "sign-in attempts for this account",
}
STATE_KEY = "ratelimit"


@dataclass(frozen=True)
class Window:
    """One limit's state after a hit: what the ``RateLimit-*`` headers say."""

    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def _item(text: str) -> RateLimitItem | None:
    return None if text.strip().lower() in ("", "off") else parse(text)


class RateLimiter:
    """The process's limits and their storage; one per API process."""

    def __init__(self, settings: Settings) -> None:
        self.items: dict[Scope, RateLimitItem | None] = {
            "ip": _item(settings.rate_limit_ip),
            "user": _item(settings.rate_limit_user),
            "project": _item(settings.rate_limit_project),
            "signin_ip": _item(settings.rate_limit_signin_ip),
            "signin_account": _item(settings.rate_limit_signin_account),
        }
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                uri=f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix=settings.rate_limit_prefix,
                wrap_exceptions=True,
            )
        else:
            storage = MemoryStorage()
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]

    async def hit(self, request: Request, scope: Scope, key: str) -> None:
        """Count one request against ``scope``'s limit for ``key``; 429 when over it."""
        item = self.items[scope]
        if item is None:
            return
        try:
            allowed = await self.strategy.hit(item, scope, key)
            stats = await self.strategy.get_window_stats(item, scope, key)
        except Exception as exc:  # noqa: BLE001 - any storage failure: let the request through
            log.warning("rate limit storage unavailable", error=type(exc).__name__)
            return
        window = Window(
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset_seconds=max(1, math.ceil(stats.reset_time - time.time())),
        )
        if not allowed:
            metrics.RATE_LIMITED.labels(scope).inc()
            raise RateLimited(
                f"too many {_WHAT[scope]}: the limit is {item.amount} per "
                f"{_per(item)}; try again in {window.reset_seconds} s",
                headers={"Retry-After": str(window.reset_seconds), **window.headers()},
            )
        current: Window | None = getattr(request.state, STATE_KEY, None)
        if current is None or window.remaining < current.remaining:
            setattr(request.state, STATE_KEY, window)

    def client_address(self, request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        if not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = request.headers.get("x-forwarded-for", "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)


def _per(item: RateLimitItem) -> str:
    granularity = item.GRANULARITY.name
    return granularity if item.multiples == 1 else f"{item.multiples} {granularity}s"
