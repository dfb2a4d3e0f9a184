import asyncio
import re
import time
from unittest import mock

import pytest
from django.core import signing

from billing.downloads import download_token_make
from billing.services import grant_create, order_mark_refunded
from store.models import WeightFile
from tests.support.factories import downloadable_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def weight_file(listing):
    return downloadable_version(listing, content=bytes(range(256)) * 40)  # 10,240 bytes


@pytest.fixture
def owner(user, listing):
    grant_create(user=user, listing=listing, actor=None, purchase=True)
    return user


def _link(client, user) -> str:
    client.force_login(user)
    html = client.get("/billing/library/").content.decode()
    return re.search(r'href="(/billing/downloads/[^"]+/)"', html).group(1)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_owner_downloads_the_whole_file_and_it_is_counted(client, owner, weight_file):
    response = client.get(_link(client, owner))
    assert response.status_code == 200
    assert _body(response) == bytes(range(256)) * 40
    assert response["Content-Length"] == "10240"
    assert response["Accept-Ranges"] == "bytes"
    assert "attachment" in response["Content-Disposition"]
    weight_file.refresh_from_db()
    assert weight_file.download_count == 1


def test_a_download_resumes_with_a_range_and_is_not_counted_twice(client, owner, weight_file):
    link = _link(client, owner)
    first = client.get(link, HTTP_RANGE="bytes=0-999")
    rest = client.get(link, HTTP_RANGE="bytes=1000-")
    tail = client.get(link, HTTP_RANGE="bytes=-16")

    assert (first.status_code, rest.status_code, tail.status_code) == (206, 206, 206)
    assert first["Content-Range"] == "bytes 0-999/10240"
    assert rest["Content-Range"] == "bytes 1000-10239/10240"
    assert _body(first) + _body(rest) == bytes(range(256)) * 40
    assert _body(tail) == bytes(range(240, 256))
    weight_file.refresh_from_db()
    assert weight_file.download_count == 1


def test_a_range_past_the_end_gets_416(client, owner, weight_file):
    response = client.get(_link(client, owner), HTTP_RANGE="bytes=20000-")
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */10240"


def test_a_stale_if_range_gets_the_whole_file(client, owner, weight_file):
    response = client.get(
        _link(client, owner), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"not-the-file"'
    )
    assert response.status_code == 200
    assert len(_body(response)) == 10240


def test_another_customer_cannot_use_the_owners_link(client, owner, other_user, weight_file):
    link = _link(client, owner)
    client.force_login(other_user)
    response = client.get(link)
    assert response.status_code == 403
    assert b"\x00\x01\x02" not in response.content


def test_another_customer_gets_no_links_at_all(client, owner, other_user, weight_file):
    client.force_login(other_user)
    assert "/billing/downloads/" not in client.get("/billing/library/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, owner, weight_file):
    link = _link(client, owner)
    client.logout()
    response = client.get(link)
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_an_expired_link_gets_410(client, owner, weight_file):
    two_hours_ago = time.time() - 7200
    with mock.patch("time.time", return_value=two_hours_ago):
        expired = download_token_make(user_id=owner.pk, weight_file_id=weight_file.pk)
    client.force_login(owner)
    response = client.get(f"/billing/downloads/{expired}/")
    assert response.status_code == 410
    assert b"expired" in response.content
    assert WeightFile.objects.get(pk=weight_file.pk).download_count == 0


def test_a_tampered_link_gets_404(client, owner, other_user, weight_file):
    link = _link(client, owner)
    token = link.split("/")[-2]
    _, rest = token.split(":", 1)
    forged = (
        signing.b64_encode(f'{{"u":{other_user.pk},"f":{weight_file.pk}}}'.encode()).decode()
        + ":"
        + rest
    )
    client.force_login(other_user)
    assert client.get(f"/billing/downloads/{forged}/").status_code == 404
    assert client.get(f"/billing/downloads/{token[:-2]}xx/").status_code == 404


def test_a_refund_stops_downloads_with_links_already_handed_out(
    client, owner, listing, weight_file
):
    link = _link(client, owner)
    order_mark_refunded(order_id=owner.entitlements.get().order_id)
    assert client.get(link).status_code == 403
    assert WeightFile.objects.get(pk=weight_file.pk).download_count == 0


@pytest.mark.django_db(transaction=True)
def test_under_asgi_the_file_streams_asynchronously_in_chunks(user, listing):
    from asgiref.sync import sync_to_async
    from django.db import connections
    from django.test import AsyncClient

    from billing import downloads

    content = bytes(range(256)) * 4096  # 1 MiB: four chunks
    weight_file = downloadable_version(listing, content=content)
    grant_create(user=user, listing=listing, actor=None, purchase=True)
    token = download_token_make(user_id=user.pk, weight_file_id=weight_file.pk)
    client = AsyncClient()
    client.force_login(user)

    async def fetch(**headers):
        response = await client.get(f"/billing/downloads/{token}/", headers=headers)
        parts = [part async for part in response.streaming_content]
        return response, parts

    whole, parts = asyncio.run(fetch())
    tail, tail_parts = asyncio.run(fetch(Range=f"bytes={len(content) - 10}-"))
    # The views ran in asgiref's worker thread; its connection is not the test's.
    asyncio.run(sync_to_async(connections.close_all)())

    assert whole.is_async and whole.status_code == 200
    assert len(parts) == len(content) // downloads.CHUNK_BYTES
    assert b"".join(parts) == content
    assert (tail.status_code, b"".join(tail_parts)) == (206, content[-10:])
