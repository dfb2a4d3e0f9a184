"""Fixtures of the publishing tests: a draft listing, its publisher logged in, and a media
folder of the test's own for what uploads store."""

import pytest

from tests.support.uploads import draft_listing


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def listing(publisher):
    return draft_listing(publisher)


@pytest.fixture
def owner_client(client, publisher):
    client.force_login(publisher.user)
    return client
