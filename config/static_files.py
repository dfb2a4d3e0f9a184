"""WhiteNoise for an async middleware chain.

WhiteNoise's middleware is sync-only. One sync-only middleware makes Django run everything
inside it in sync mode: an async view then runs in a task of its own, from a thread that
waits for it. Such a request pins a thread for its whole answer, and it no longer runs in
the task the ASGI handler cancels when the client disconnects: a customer who gave up on a
whole (non-streamed) answer had it computed, and held quota, to the end. This subclass
serves the same files and, in an async chain, stays async.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from whitenoise.middleware import WhiteNoiseMiddleware


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, *args, **kwargs):
        super().__init__(get_response, *args, **kwargs)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        # Production looks files up in a dict built at start; with autorefresh (development)
        # it reads the disk, which is quick and only happens for DEBUG.
        static_file = (
            self.find_file(request.path_info)
            if self.autorefresh
            else self.files.get(request.path_info)
        )
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
