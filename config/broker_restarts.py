"""A worker survives its Redis broker restarting while answers are in progress.

kombu's Redis channel, when it closes with a BRPOP in flight, first reads that BRPOP's reply
(so that a message popped meanwhile is not lost). When the broker itself has gone away the
read raises, the close stops there and the channel stays open. Celery's consumer then drops
the connection's transport and closes the connection again: the channel's second close
restores its unacknowledged messages (the answers in progress, acks_late) through the
transport it no longer has, and the AttributeError that follows is an "Unrecoverable error"
that ends the worker. Seen with kombu 5.7 and Celery 5.7 on a plain Celery app too: an
acks_late task in progress and Redis restarted, the worker exited every time
(tests/reliability/test_restarts.py meets it under load).

With a lost connection there is no reply to read, so the close goes on: the channel closes
once, while it still has its transport, and the worker reconnects. Messages it could not
restore stay in Redis's unacked set; their tasks, still running, acknowledge them once the
broker is back.
"""

from queue import Empty

from kombu.transport import redis as kombu_redis

_close = kombu_redis.Channel.close


def _close_even_if_the_broker_is_gone(channel) -> None:
    if channel._in_poll and not channel.closed:
        try:
            channel._brpop_read()
        except (Empty, *channel.connection_errors):
            pass  # nothing was popped that could still be read
    _close(channel)


kombu_redis.Channel.close = _close_even_if_the_broker_is_gone
