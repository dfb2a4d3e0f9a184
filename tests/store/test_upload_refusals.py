"""Refusals at upload time: checked from names, sizes and archive listings, before anything is
stored. The publisher sees the reason on the form; no version row and no file remain."""

import io
import tarfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload

from store.models import ListingVersion
from store.publishing.upload_limits import SizeLimitUploadHandler
from tests.support.models import build_model_folder
from tests.support.uploads import (
    files_under,
    folder_uploads,
    tar_of,
    upload,
    zip_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return build_model_folder(
        tmp_path_factory.mktemp("models") / "tiny-llama", kind="llama", chat_template=True
    )


def assert_refused(response, fragment: str, media, listing):
    assert response.status_code == 400
    assert fragment in response.content.decode()
    assert not ListingVersion.objects.filter(listing=listing).exists()
    assert files_under(media) == []


@pytest.mark.parametrize(
    "name", ["pytorch_model.bin", "model.pt", "model.pth", "weights.pkl", "last.ckpt"]
)
def test_it_refuses_pickle_checkpoints(owner_client, listing, media, model_folder, name):
    files = [f for f in folder_uploads(model_folder) if not f.name.endswith(".safetensors")]
    files.append(SimpleUploadedFile(name, b"\x80\x04pickled"))
    response = upload(owner_client, listing, files)
    assert_refused(response, "pickle checkpoints", media, listing)
    assert name in response.content.decode()


def test_it_refuses_a_pickle_checkpoint_inside_an_archive(
    owner_client, listing, media, model_folder
):
    data = zip_of(model_folder, extra={"tiny-model/pytorch_model.bin": b"\x80\x04"})
    response = upload(owner_client, listing, [SimpleUploadedFile("model.zip", data)])
    assert_refused(response, "pickle checkpoints", media, listing)


def test_it_refuses_a_folder_without_config(owner_client, listing, media, model_folder):
    files = [f for f in folder_uploads(model_folder) if f.name != "config.json"]
    assert_refused(upload(owner_client, listing, files), "config.json is missing", media, listing)


def test_it_refuses_a_folder_without_tokenizer(owner_client, listing, media, model_folder):
    files = [f for f in folder_uploads(model_folder) if not f.name.startswith("tokenizer")]
    assert_refused(upload(owner_client, listing, files), "tokenizer is missing", media, listing)


def test_it_refuses_an_archive_without_config(owner_client, listing, media, model_folder, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for path in model_folder.iterdir():
        if path.name != "config.json":
            (partial / path.name).write_bytes(path.read_bytes())
    response = upload(owner_client, listing, [SimpleUploadedFile("m.tar.gz", tar_of(partial))])
    assert_refused(response, "config.json is missing", media, listing)


def test_it_refuses_a_zip_with_a_path_escaping_its_folder(
    owner_client, listing, media, model_folder
):
    data = zip_of(model_folder, top="", extra={"../../evil.json": b"{}"})
    response = upload(owner_client, listing, [SimpleUploadedFile("model.zip", data)])
    assert_refused(response, "escaping its folder", media, listing)


def test_it_refuses_a_tar_with_an_absolute_path(owner_client, listing, media, model_folder):
    info = tarfile.TarInfo("/etc/cron.d/evil")
    info.size = 4
    data = tar_of(model_folder, members=[info])
    response = upload(owner_client, listing, [SimpleUploadedFile("model.tar.gz", data)])
    assert_refused(response, "absolute path", media, listing)


@pytest.mark.parametrize("link_type", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_it_refuses_a_tar_with_links(owner_client, listing, media, model_folder, link_type):
    info = tarfile.TarInfo("tiny-model/added_tokens.json")
    info.type = link_type
    info.linkname = "/etc/passwd"
    data = tar_of(model_folder, members=[info], mode="w")
    response = upload(owner_client, listing, [SimpleUploadedFile("model.tar", data)])
    assert_refused(response, "link", media, listing)


def test_it_refuses_a_zip_holding_a_symlink(owner_client, listing, media, model_folder):
    import stat

    buffer = io.BytesIO(zip_of(model_folder))
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo("tiny-model/added_tokens.json")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    response = upload(owner_client, listing, [SimpleUploadedFile("model.zip", buffer.getvalue())])
    assert_refused(response, "symbolic link", media, listing)


def test_it_refuses_an_upload_over_the_size_limit(owner_client, listing, media, settings, tmp_path):
    settings.UPLOAD_MAX_BYTES = 50_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every file streams to a temporary file
    response = upload(owner_client, listing, [SimpleUploadedFile("big.gguf", b"\0" * 2_000_000)])
    assert_refused(response, "over the size limit", media, listing)
    # The temporary file Django had started writing is gone too.
    assert list((tmp_path / "upload-tmp").iterdir()) == []


def test_the_size_limit_answers_an_upload_script_in_json(owner_client, listing, media, settings):
    settings.UPLOAD_MAX_BYTES = 50_000
    response = upload(
        owner_client, listing, [SimpleUploadedFile("big.gguf", b"\0" * 200_000)], xhr=True
    )
    assert response.status_code == 400
    assert "over the size limit" in response.json()["errors"][0]


def test_the_size_limit_is_counted_while_streaming(rf):
    # Content-Length can lie or be missing; the running count stops the body anyway.
    request = rf.post("/")
    handler = SizeLimitUploadHandler(request, limit=10)
    handler.handle_raw_input(None, {}, 0, b"")
    assert handler.receive_data_chunk(b"123456", 0) == b"123456"
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"123456", 6)
    assert request.upload_too_large is True


def test_an_archive_expanding_past_the_limit_is_refused(
    owner_client, listing, media, settings, model_folder
):
    data = zip_of(model_folder, extra={"tiny-model/README.md": b" " * 1_000_000})
    settings.UPLOAD_MAX_BYTES = len(data) + 10  # the zip fits, what it expands to does not
    expanded = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert expanded > settings.UPLOAD_MAX_BYTES
    response = upload(owner_client, listing, [SimpleUploadedFile("model.zip", data)])
    assert_refused(response, "over the limit", media, listing)


BOMB_BYTES = 70 * 1024 * 1024  # past the 64 MiB floor below which compression is not judged


def test_a_zip_that_expands_like_a_compression_bomb_is_refused(
    owner_client, listing, media, model_folder
):
    data = zip_of(model_folder, extra={"tiny-model/README.md": b" " * BOMB_BYTES})
    assert len(data) * 20 < BOMB_BYTES  # well within the size limit, and 20× smaller
    response = upload(owner_client, listing, [SimpleUploadedFile("model.zip", data)])
    assert_refused(response, "refused as a compression bomb", media, listing)


def test_a_tar_gz_that_expands_like_a_compression_bomb_is_refused(
    owner_client, listing, media, model_folder
):
    readme = tarfile.TarInfo("tiny-model/README.md")
    readme.size = BOMB_BYTES
    data = tar_of(model_folder, members=[readme])
    response = upload(owner_client, listing, [SimpleUploadedFile("model.tar.gz", data)])
    assert_refused(response, "refused as a compression bomb", media, listing)


def test_an_archive_listing_thousands_of_entries_is_refused(
    owner_client, listing, media, model_folder
):
    extra = {f"tiny-model/shard-{i:05d}.safetensors": b"" for i in range(1001)}
    data = zip_of(model_folder, extra=extra)
    response = upload(owner_client, listing, [SimpleUploadedFile("model.zip", data)])
    assert_refused(response, "more than 1,000 entries", media, listing)


def test_an_ordinary_archive_is_not_judged_a_bomb(owner_client, listing, media, model_folder):
    data = zip_of(model_folder, extra={"tiny-model/README.md": b" " * 1_000_000})
    response = upload(owner_client, listing, [SimpleUploadedFile("model.zip", data)])
    assert response.status_code == 302, response.content.decode()[:500]
    assert ListingVersion.objects.get(listing=listing).status == "uploaded"


def test_it_refuses_files_that_are_not_part_of_a_model_folder(
    owner_client, listing, media, model_folder
):
    files = folder_uploads(model_folder) + [SimpleUploadedFile("run.sh", b"rm -rf /")]
    assert_refused(
        upload(owner_client, listing, files), "not a file of a model folder", media, listing
    )


def test_an_upload_without_the_csrf_token_is_forbidden(publisher, listing, media, model_folder):
    # The upload view reads its body only after installing the size limit, so it checks CSRF
    # itself rather than through the middleware; it must still refuse a forged request.
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(publisher.user)
    response = upload(client, listing, folder_uploads(model_folder))
    assert response.status_code == 403
    assert not ListingVersion.objects.filter(listing=listing).exists()
    assert files_under(media) == []
