"""API key limits, the per-account limits of free models, and the answers one account may
have in progress at once, counted in Redis, so they hold across web processes.

Fixed windows: requests and tokens per UTC minute, tokens per UTC calendar month. One Lua
script checks every limit and, only if all pass, counts the request: two processes can never
both take the last slot. Tokens are counted at admission as the most the request may use
(prompt + n * max_tokens) and corrected to the real use once it is settled.
"""

import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from config.api_errors import ApplicationError
from config.redis_clients import redis_client
from config.utc_windows import seconds_to_next_month

_ADMIT = """
local rpm_limit = tonumber(ARGV[1])
local tpm_limit = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local rpm = tonumber(redis.call('GET', KEYS[1]) or '0')
local tpm = tonumber(redis.call('GET', KEYS[2]) or '0')
local month = tonumber(redis.call('GET', KEYS[3]) or '0')
if rpm_limit > 0 and rpm + 1 > rpm_limit then return 1 end
if tpm_limit > 0 and tpm + tokens > tpm_limit then return 2 end
if budget > 0 and month + tokens > budget then return 3 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('INCRBY', KEYS[2], tokens)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
redis.call('INCRBY', KEYS[3], tokens)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
return 0
"""

# KEYS[1]: the account's answers in progress (a sorted set: request id → when it lapses).
# ARGV: now, lapse time, the cap, the request id, the key's TTL. Lapsed entries (a request
# whose settlement never came) are dropped first.
_IN_FLIGHT_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 0
"""

_FREE_ADMIT = """
local rpm_limit = tonumber(ARGV[1])
local tpd_limit = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local rpm = tonumber(redis.call('GET', KEYS[1]) or '0')
local tpd = tonumber(redis.call('GET', KEYS[2]) or '0')
if rpm_limit > 0 and rpm + 1 > rpm_limit then return 1 end
if tpd_limit > 0 and tpd + tokens > tpd_limit then return 2 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('INCRBY', KEYS[2], tokens)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return 0
"""

MINUTE_TTL = 120
DAY_TTL = 2 * 24 * 3600
MONTH_TTL = 40 * 24 * 3600


class RateLimited(ApplicationError):
    """A key limit refused the request; ``retry_after`` seconds until the window turns."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, code="rate_limit_exceeded", status=429)
        self.retry_after = retry_after


@dataclass(frozen=True)
class LimitTicket:
    """What admission counted, so settlement can correct it to the real use."""

    tokens_key: str
    month_key: str
    tokens: int


def _client() -> redis.Redis:
    return redis_client()


def _keys(key_id: int, now: float) -> tuple[str, str, str]:
    minute = int(now // 60)
    month = time.strftime("%Y%m", time.gmtime(now))
    base = f"gptstore:limits:{key_id}"
    return f"{base}:rpm:{minute}", f"{base}:tpm:{minute}", f"{base}:month:{month}"


def limits_admit(*, api_key, tokens: int, now: float | None = None) -> LimitTicket | None:
    """Counts one request of at most ``tokens`` against the key's limits, or raises RateLimited.

    Invariant: the counters of a window never exceed the key's limits.
    """
    rpm_limit = api_key.requests_per_minute or 0
    tpm_limit = api_key.tokens_per_minute or 0
    budget = api_key.monthly_token_budget or 0
    if not (rpm_limit or tpm_limit or budget):
        return None
    now = time.time() if now is None else now
    rpm_key, tpm_key, month_key = _keys(api_key.pk, now)
    verdict = _client().eval(
        _ADMIT,
        3,
        rpm_key,
        tpm_key,
        month_key,
        rpm_limit,
        tpm_limit,
        budget,
        tokens,
        MINUTE_TTL,
        MONTH_TTL,
    )
    to_next_minute = max(1, math.ceil(60 - now % 60))
    if verdict == 1:
        raise RateLimited(
            f"Rate limit reached: {rpm_limit} requests per minute for this key.",
            retry_after=to_next_minute,
        )
    if verdict == 2:
        raise RateLimited(
            f"Rate limit reached: {tpm_limit} tokens per minute for this key "
            f"(this request may use up to {tokens}).",
            retry_after=to_next_minute,
        )
    if verdict == 3:
        raise RateLimited(
            f"This key's monthly budget of {budget} tokens is used up (this request may use up to {tokens}).",
            retry_after=seconds_to_next_month(now),
        )
    return LimitTicket(tokens_key=tpm_key, month_key=month_key, tokens=tokens)


def free_limits_admit(*, user_id: int, tokens: int, now: float | None = None) -> LimitTicket | None:
    """Counts one request to a free model against the account's free limits (requests per
    UTC minute, tokens per UTC day; FREE_MODEL_* settings), or raises RateLimited. Free
    models cost nothing, so this is what keeps one account from filling the workers."""
    rpm_limit = settings.FREE_MODEL_REQUESTS_PER_MINUTE
    tpd_limit = settings.FREE_MODEL_TOKENS_PER_DAY
    if not (rpm_limit or tpd_limit):
        return None
    now = time.time() if now is None else now
    base = f"gptstore:free:{user_id}"
    rpm_key = f"{base}:rpm:{int(now // 60)}"
    tpd_key = f"{base}:tpd:{int(now // 86400)}"
    verdict = _client().eval(
        _FREE_ADMIT, 2, rpm_key, tpd_key, rpm_limit, tpd_limit, tokens, MINUTE_TTL, DAY_TTL
    )
    if verdict == 1:
        raise RateLimited(
            f"Free models allow {rpm_limit} requests per minute per account; wait a moment.",
            retry_after=max(1, math.ceil(60 - now % 60)),
        )
    if verdict == 2:
        raise RateLimited(
            f"Free models allow {tpd_limit:,} tokens per day per account (this request may use "
            f"up to {tokens:,}). Models sold per token or a pack have no such limit.",
            retry_after=max(1, math.ceil(86400 - now % 86400)),
        )
    return LimitTicket(tokens_key=tpd_key, month_key="", tokens=tokens)


def limits_correct(*, tokens_key: str, month_key: str, counted: int, used: int) -> None:
    """Gives back what admission counted beyond the real use (never below zero use)."""
    surplus = counted - used
    keys = [key for key in (tokens_key, month_key) if key]
    if surplus <= 0 or not keys:
        return
    client = _client()
    pipe = client.pipeline()
    # The minute may have turned: only correct a window that still exists.
    for key in keys:
        pipe.exists(key)
    exists = pipe.execute()
    pipe = client.pipeline()
    for key, present in zip(keys, exists, strict=True):
        if present:
            pipe.decrby(key, surplus)
    pipe.execute()


def limits_usage(*, api_key, now: float | None = None) -> dict:
    """The key's counters in the current windows (for the key's page and tests)."""
    now = time.time() if now is None else now
    values = _client().mget(_keys(api_key.pk, now))
    rpm, tpm, month = (int(v or 0) for v in values)
    return {"requests_this_minute": rpm, "tokens_this_minute": tpm, "tokens_this_month": month}


def _in_flight_key(user_id: int) -> str:
    return f"gptstore:in-flight:{user_id}"


def in_flight_admit(*, user_id: int, request_id: str, now: float | None = None) -> bool:
    """Counts one answer in progress for the account, or raises RateLimited when it already
    has INFERENCE_MAX_CONCURRENT_PER_USER (0: no cap), so that one customer cannot fill the
    workers. False when nothing was counted. in_flight_release ends it (settlement does); an
    entry settlement never ended lapses after the longest a request may take."""
    cap = settings.INFERENCE_MAX_CONCURRENT_PER_USER
    if not cap:
        return False
    now = time.time() if now is None else now
    lapse = settings.INFERENCE_REQUEST_TIMEOUT + 60
    refused = _client().eval(
        _IN_FLIGHT_ADMIT, 1, _in_flight_key(user_id), now, now + lapse, cap, request_id, lapse
    )
    if refused:
        raise RateLimited(
            f"Your account has {cap} answers in progress, the most it may have at once; "
            "send this one when one of them is done.",
            retry_after=1,
        )
    return True


def in_flight_release(*, user_id: int, request_id: str) -> None:
    _client().zrem(_in_flight_key(user_id), request_id)
