"""Calling the ledger's database functions (migrations 0004 and 0006)."""

from django.db import connection, transaction


def ledger_call(sql: str, params: list) -> tuple:
    """One statement calling a ledger function: its own transaction (one round trip) in
    autocommit; inside a caller's transaction, a savepoint, so that a refusal leaves the
    caller's transaction usable."""
    if connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
