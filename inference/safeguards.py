"""Content safeguards: staff-kept blocked patterns checked against every prompt and every
answer as it streams.

Text is folded before it is matched (``fold``), so that the tricks that make a word look the
same to a reader but not to a matcher do not pass: compatibility forms (fullwidth letters,
ligatures) are normalised (NFKC), letters of other scripts that look like Latin ones
(Cyrillic "о", Greek "ο", from Unicode's confusables list through ``confusable-homoglyphs``)
become those, format characters (zero-width spaces and joiners, soft hyphens, direction marks)
and combining marks go, case is folded and runs of white space become one space. A plain
pattern is folded the same way; a regular expression is matched against folded text as
written. A prompt is screened message by message and as the messages joined without a
break, so a word split across two messages is read whole. An answer is screened as it
streams (inference/completions.py): on a match its generation stops, it finishes with
``content_filter`` and what was produced is charged.
"""

import re
import string
import unicodedata
from dataclasses import dataclass
from functools import cache as memoized

from confusable_homoglyphs.utils import load
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from config.api_errors import ApplicationError
from inference.models import BlockedPattern

CACHE_KEY = "inference:blocked-patterns"
CACHE_SECONDS = 30
# How much of an answer's end is re-read at each new piece of text: longer than any plain
# pattern can be (BlockedPattern.pattern is at most 500 characters).
ANSWER_WINDOW = 1000
_SPACES = re.compile(r"\s+")
_DROPPED = {"Cf", "Mn", "Me"}  # format characters, combining marks


@memoized
def _look_alikes() -> dict[int, str]:
    """Each non-ASCII character Unicode lists as confusable with a Latin letter → that letter."""
    table = {}
    for character, homoglyphs in load("confusables.json").items():
        if len(character) != 1 or character.isascii():
            continue
        for homoglyph in homoglyphs:
            if len(homoglyph["c"]) == 1 and homoglyph["c"] in string.ascii_letters:
                table[ord(character)] = homoglyph["c"]
                break
    return table


def fold(text: str) -> str:
    """``text`` as the safeguards read it (see the module's docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_look_alikes())
    text = "".join(
        c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) not in _DROPPED
    )
    return _SPACES.sub(" ", text.casefold())


@dataclass(frozen=True)
class Pattern:
    pk: int
    regex: re.Pattern
    reason: str


def active_patterns() -> list[Pattern]:
    # Compiled on each process from a short-lived cached list, so a change in the admin
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
            source = pattern if is_regex else re.escape(fold(pattern).strip())
            compiled.append(Pattern(pk, re.compile(source, re.IGNORECASE), reason))
        except re.error:
            continue
    return compiled


def patterns_changed() -> None:
    cache.delete(CACHE_KEY)


def match_count(pattern: Pattern) -> None:
    BlockedPattern.objects.filter(pk=pattern.pk).update(
        match_count=F("match_count") + 1, last_matched_at=timezone.now()
    )


def first_match(patterns: list[Pattern], views: list[str]) -> Pattern | None:
    for pattern in patterns:
        if any(pattern.regex.search(view) for view in views):
            return pattern
    return None


def prompt_screen(*, texts: list[str], field: str = "messages") -> None:
    """Refuses a prompt (its messages' texts, or one text) that matches an active blocked
    pattern, and counts the match. ``field``: the request field the text came from."""
    patterns = active_patterns()
    if not patterns:
        return
    folded = [fold(text) for text in texts]
    views = ["\n".join(folded), "".join(folded)] if len(folded) > 1 else folded
    found = first_match(patterns, views)
    if found is not None:
        match_count(found)
        message = "Your request was refused by the store's content policy."
        if found.reason:
            message = f"{message} {found.reason}"
        raise ApplicationError(message, code="content_policy_violation", status=400, field=field)


class AnswerScreen:
    """Reads an answer's choices as they stream; ``blocks`` is True once a choice's text
    matches a pattern (the piece that completed the match is not to be shown)."""

    def __init__(self, patterns: list[Pattern]):
        self.patterns = patterns
        self.tails: dict[int, str] = {}  # each choice's end, already folded
        self.matched: Pattern | None = None

    def blocks(self, index: int, text: str) -> bool:
        # Only the new piece is folded (per token, on the answer's hot path): folding works
        # character by character, but for runs of spaces, which may meet at the seam.
        if not self.patterns or not text:
            return False
        tail = _SPACES.sub(" ", self.tails.get(index, "") + fold(text))[-ANSWER_WINDOW:]
        self.tails[index] = tail
        found = first_match(self.patterns, [tail])
        if found is not None:
            self.matched = found
            return True
        return False
