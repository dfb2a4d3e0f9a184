"""Billing writes. Each module holds one idea; this package is the public surface."""

from billing.services.quota import (
    holds_release_stale,
    quota_hold,
    quota_pack_credit,
    quota_pack_revoke,
    quota_packs_expire,
    quota_release,
    quota_settle,
)

__all__ = [
    "holds_release_stale",
    "quota_hold",
    "quota_pack_credit",
    "quota_pack_revoke",
    "quota_packs_expire",
    "quota_release",
    "quota_settle",
]
