"""Showing amounts kept as integers in the smallest currency unit."""

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
