"""A web-side reader whose request was cancelled (its client disconnected) stops reading even
when a library swallowed the CancelledError: otherwise the answer runs to its end and the
customer pays for tokens nobody received."""

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from inference.streams import events_append, events_read_async


class SwallowingClient(aioredis.Redis):
    """Swallows one cancellation inside XREAD, as a library between our awaits may."""

    swallowed = False

    async def xread(self, *args, **kwargs):
        try:
            return await super().xread(*args, **kwargs)
        except asyncio.CancelledError:
            type(self).swallowed = True
            return []


def test_a_cancelled_reader_stops_even_when_the_cancel_was_swallowed(redis_client):
    request_id = uuid.uuid4().hex
    events_append(redis_client, request_id, [{"type": "start"}])
    read: list[dict] = []

    async def reader():
        client = SwallowingClient.from_url(settings.REDIS_URL)
        try:
            async for event in events_read_async(client, request_id, timeout=30):
                read.append(event)
        finally:
            await client.aclose()

    async def scenario():
        task = asyncio.create_task(reader())
        while not read:  # the reader is now blocked in XREAD, waiting for more
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        # The answer goes on being written: a reader that missed the cancel would read it.
        events_append(redis_client, request_id, [{"type": "delta", "index": 0, "text": "x"}])
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert SwallowingClient.swallowed
    assert [event["type"] for event in read] == ["start"]
