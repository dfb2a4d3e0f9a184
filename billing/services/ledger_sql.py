"""Calling the ledger's database functions (migrations 0004, 0009 and 0010).

Every hold and every settlement is a commit, and a commit waits for the disk; requests of
one hot account also wait for each other's locks. ``Combiner`` lets the concurrent callers
of one process share a statement: whoever finds no batch running takes everything queued
and runs it as one call of the ``*_many`` function (one transaction, one commit, the locks
taken once), then hands the lead to the next caller waiting. Each caller still gets the
answer of its own call, and the rules are those of the single-call functions, which the
``*_many`` ones run item by item. A caller inside a transaction of its own never joins a
batch (its call must commit or roll back with that transaction).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

MAX_BATCH = 128


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


@dataclass
class _Call:
    args: list
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    finished: bool = False
    result: tuple | None = None
    error: BaseException | None = None


class Combiner:
    """One kind of ledger call (say, a quota hold) that concurrent callers may share.

    ``single(args)`` makes one call alone and returns its row; ``many_sql`` takes one array
    per argument, then the synchronous_commit setting, and returns ``(index, *row)`` per
    item (index from 1, in the order given); ``types`` are the arrays' SQL types.
    """

    def __init__(self, *, single: Callable[[list], tuple], many_sql: str, types: list[str]):
        self.single = single
        self.many_sql = many_sql
        self.types = types
        self._lock = threading.Lock()
        self._queue: list[_Call] = []
        self._busy = False
        self.statements = 0  # sent so far by this process: one per batch or lone call

    def _count(self) -> None:
        with self._lock:
            self.statements += 1

    def _single(self, args: list) -> tuple:
        self._count()
        return self.single(args)

    def call(self, args: list) -> tuple:
        if not settings.LEDGER_COMBINE or connection.in_atomic_block:
            return self._single(args)
        item = _Call(args)
        with self._lock:
            self._queue.append(item)
            if not self._busy:
                self._busy = True
                item.lead = True
        while not item.finished:
            if item.lead:
                self._lead()
            else:
                item.done.wait()
                item.done.clear()
        if item.error is not None:
            raise item.error
        return item.result

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            self._run(batch)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._busy = False

    def _run(self, batch: list[_Call]) -> None:
        rows: list[tuple] | None = None
        if len(batch) > 1:
            try:
                rows = self._many([item.args for item in batch])
            except Exception:  # noqa: BLE001 - every caller below gets its own outcome
                # The statement rolled back whole (a duplicate request id, a lock timeout, a
                # lost connection): each call alone, so each caller gets its own outcome.
                rows = None
        for index, item in enumerate(batch):
            if rows is not None:
                item.result = rows[index]
            else:
                try:
                    item.result = self._single(item.args)
                except Exception as exc:  # noqa: BLE001 - handed to the caller it belongs to
                    item.error = exc
            item.finished = True
            if not item.lead:
                item.done.set()

    def _many(self, calls: list[list]) -> list[tuple]:
        columns = [list(column) for column in zip(*calls, strict=True)]
        casts = ", ".join(f"%s::{sql_type}[]" for sql_type in self.types)
        self._count()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT * FROM {self.many_sql}({casts}, %s)",
                [*columns, settings.LEDGER_SYNCHRONOUS_COMMIT],
            )
            answered = {row[0]: tuple(row[1:]) for row in cursor.fetchall()}
        return [answered[index] for index in range(1, len(calls) + 1)]
