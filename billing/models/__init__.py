from billing.models.credits import (
    MICROCENTS_PER_CENT,
    BuilderEarningsEntry,
    CreditAccount,
    CreditHold,
    CreditLedgerEntry,
    KeySpend,
    TokenPrice,
    UsageEarningsEntry,
)
from billing.models.earnings import EarningsEntry, StripeEvent
from billing.models.orders import Entitlement, Order
from billing.models.pricing import ListingTerms, PriceOption, TermsAcceptance
from billing.models.quota import QuotaHold, QuotaLedgerEntry, QuotaPack
from billing.models.topups import CreditTopUp

__all__ = [
    "MICROCENTS_PER_CENT",
    "BuilderEarningsEntry",
    "CreditAccount",
    "CreditHold",
    "CreditLedgerEntry",
    "CreditTopUp",
    "TokenPrice",
    "UsageEarningsEntry",
    "EarningsEntry",
    "KeySpend",
    "Entitlement",
    "ListingTerms",
    "Order",
    "PriceOption",
    "QuotaHold",
    "QuotaLedgerEntry",
    "QuotaPack",
    "StripeEvent",
    "TermsAcceptance",
]
