"""WhiteNoise in an async middleware chain: it serves static files and hands every other
request on without leaving async mode (so the views run in the request's own task)."""

import asyncio

from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.test import RequestFactory

from config.static_files import AsyncWhiteNoiseMiddleware


def test_it_stays_async_serves_static_files_and_passes_the_rest_on(settings, tmp_path):
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_text("body { color: teal; }")
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_AUTOREFRESH = False
    seen = []

    async def view(request):
        seen.append(request.path)
        return HttpResponse("from the view")

    middleware = AsyncWhiteNoiseMiddleware(view)
    assert iscoroutinefunction(middleware)
    factory = RequestFactory()

    static = asyncio.run(middleware(factory.get("/static/css/site.css")))
    other = asyncio.run(middleware(factory.get("/v1/models")))

    assert static.status_code == 200
    assert b"".join(static.streaming_content) == b"body { color: teal; }"
    assert other.content == b"from the view"
    assert seen == ["/v1/models"]


def test_in_a_sync_chain_it_stays_sync(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    middleware = AsyncWhiteNoiseMiddleware(lambda request: HttpResponse("sync view"))
    assert not iscoroutinefunction(middleware)
    assert middleware(RequestFactory().get("/anything")).content == b"sync view"
