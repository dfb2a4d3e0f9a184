"""Calendar windows in UTC that limits and budgets reset on (key budgets in Redis, key
spending limits in the database): one definition of when "this month" ends."""

import calendar
import math
import time


def seconds_to_next_month(now: float | None = None) -> int:
    """Whole seconds (at least 1) from ``now`` (a Unix time) to the next UTC month."""
    now = time.time() if now is None else now
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return max(1, math.ceil(calendar.timegm((year, month, 1, 0, 0, 0)) - now))
