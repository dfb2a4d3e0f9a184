"""A ready version never changes: not its row, not its files' rows, not the files on disk."""

import pytest

from config.api_errors import ApplicationError
from store.models import ListingVersion, WeightFile
from store.publishing.services import version_process
from tests.support.models import build_model_folder
from tests.support.uploads import draft_listing, folder_uploads, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def ready_version(client, publisher, tmp_path):
    listing = draft_listing(publisher)
    client.force_login(publisher.user)
    upload(client, listing, folder_uploads(build_model_folder(tmp_path / "gpt2", kind="gpt2")))
    version = version_process(version_id=ListingVersion.objects.get(listing=listing).pk)
    assert version.status == "ready", version.error_message
    return version


def test_processing_a_ready_version_again_changes_nothing(ready_version):
    before = (ready_version.processed_at, list(ready_version.files.values_list("path", "sha256")))
    again = version_process(version_id=ready_version.pk)
    assert again.status == "ready"
    assert (again.processed_at, list(again.files.values_list("path", "sha256"))) == before


def test_a_ready_versions_storage_cannot_be_changed(ready_version):
    version = ListingVersion.objects.get(pk=ready_version.pk)
    version.storage_path = "models/elsewhere"
    with pytest.raises(ApplicationError, match="immutable"):
        version.save()
    version = ListingVersion.objects.get(pk=ready_version.pk)
    version.status = "processing"
    with pytest.raises(ApplicationError, match="immutable"):
        version.save()


def test_a_ready_versions_files_cannot_be_edited_or_deleted(ready_version):
    weight_file = WeightFile.objects.filter(version=ready_version).first()
    weight_file.sha256 = "0" * 64
    with pytest.raises(ApplicationError, match="immutable"):
        weight_file.save()
    with pytest.raises(ApplicationError, match="immutable"):
        weight_file.delete()
    with pytest.raises(ApplicationError):
        ListingVersion.objects.get(pk=ready_version.pk).delete()
    assert WeightFile.objects.filter(version=ready_version).count() == ready_version.files.count()


def test_download_counts_still_move(ready_version):
    weight_file = WeightFile.objects.filter(version=ready_version).first()
    weight_file.download_count += 1
    weight_file.save(update_fields=["download_count"])
    assert WeightFile.objects.get(pk=weight_file.pk).download_count == 1


def test_the_stored_files_are_read_only(ready_version, media):
    for path in (media / ready_version.storage_path).iterdir():
        assert path.stat().st_mode & 0o222 == 0
