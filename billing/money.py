"""Showing amounts kept as integers in the smallest currency unit."""

from decimal import Decimal, InvalidOperation

from django.conf import settings

# Currencies Stripe counts in whole units (no cents).
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def major_units(amount: int, currency: str) -> str:
    """12345, "usd" → "123.45" (exact: integer arithmetic, no floats)."""
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount:,}"
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def format_amount(amount: int, currency: str) -> str:
    """12345, "usd" → "$123.45"; other currencies get their code: "123.45 CHF"."""
    currency = (currency or "").lower()
    text = major_units(amount, currency)
    symbol = SYMBOLS.get(currency)
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {currency.upper()}"


# --- pay per token: amounts in microcents (µ¢), a millionth of the smallest unit ----------

MICROUNITS = 1_000_000  # µ¢ per cent (per smallest currency unit)


def _currency() -> str:
    return settings.STORE_CURRENCY


def exact_major_units(amount: int, currency: str | None = None) -> str:
    """µ¢ as an exact decimal string of major units, no exponent, no trailing zeros:
    20 µ¢ in dollars → "0.0000002" (what /v1/models and usage.cost show)."""
    currency = currency or _currency()
    exponent = 6 if currency.lower() in ZERO_DECIMAL else 8
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    digits = f"{fraction:0{exponent}d}".rstrip("0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def format_microcents(amount: int, currency: str | None = None) -> str:
    """For people: "$4.99" for whole cents, else every digit that matters ("$0.0000142")."""
    currency = currency or _currency()
    if amount < 0:
        return "-" + format_microcents(-amount, currency)
    if amount % MICROUNITS == 0:
        return format_amount(amount // MICROUNITS, currency)
    symbol = SYMBOLS.get(currency.lower())
    text = exact_major_units(amount, currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def per_mtok_label(cents_per_mtok: int, currency: str | None = None) -> str:
    """A price per 1M tokens, for people: "$0.20"."""
    return format_amount(cents_per_mtok, currency or _currency())


def cents_from_major(value, currency: str | None = None) -> int:
    """What a person typed ("12.50", a Decimal) → 1250 smallest units, exactly. ValueError
    for more decimals than the currency has, or for something that is not a number."""
    currency = currency or _currency()
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError("Not an amount.") from exc
    if not amount.is_finite():
        raise ValueError("Not an amount.")
    scale = 1 if currency.lower() in ZERO_DECIMAL else 100
    units = amount * scale
    if units != units.to_integral_value():
        raise ValueError("Too many decimals for this currency.")
    return int(units)
