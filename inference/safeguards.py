"""Content safeguards: staff-kept blocked patterns checked against every prompt."""

import re

from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from config.api_errors import ApplicationError
from inference.models import BlockedPattern

CACHE_KEY = "inference:blocked-patterns"
CACHE_SECONDS = 30


def _active_patterns() -> list[tuple[int, re.Pattern, str]]:
    # Compiled on each web process from a short-lived cached list, so a change in the admin
    # applies within CACHE_SECONDS everywhere without a query per request.
    rows = cache.get(CACHE_KEY)
    if rows is None:
        rows = list(
            BlockedPattern.objects.filter(active=True).values_list(
                "pk", "pattern", "is_regex", "reason"
            )
        )
        cache.set(CACHE_KEY, rows, CACHE_SECONDS)
    compiled = []
    for pk, pattern, is_regex, reason in rows:
        try:
            compiled.append(
                (pk, re.compile(pattern if is_regex else re.escape(pattern), re.IGNORECASE), reason)
            )
        except re.error:
            continue
    return compiled


def patterns_changed() -> None:
    cache.delete(CACHE_KEY)


def prompt_screen(*, text: str, field: str = "messages") -> None:
    """Refuses a prompt that matches an active blocked pattern, and counts the match.

    ``field`` is the request field the text came from ("messages" or "prompt")."""
    for pk, regex, reason in _active_patterns():
        if regex.search(text):
            BlockedPattern.objects.filter(pk=pk).update(
                match_count=F("match_count") + 1, last_matched_at=timezone.now()
            )
            message = "Your request was refused by the store's content policy."
            if reason:
                message = f"{message} {reason}"
            raise ApplicationError(
                message, code="content_policy_violation", status=400, field=field
            )
