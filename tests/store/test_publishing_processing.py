"""Processing a version (the service the Celery task calls, run inline here): folder, zip, tar
and GGUF uploads become a ready model folder; broken models are refused leaving nothing behind."""

import hashlib
import json
import shutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from store.models import ListingVersion, WeightFile
from store.publishing.services import version_process
from tests.support.models import build_llama_gguf, build_model_folder
from tests.support.uploads import (
    files_under,
    folder_uploads,
    tar_of,
    upload,
    zip_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "llama": build_model_folder(root / "llama", kind="llama", chat_template=True),
        "gpt2": build_model_folder(root / "gpt2", kind="gpt2", context=128),
        "bert": build_model_folder(root / "bert", kind="bert"),
        "gguf": build_llama_gguf(root / "gguf" / "tiny-llama.gguf"),
    }


def uploaded_version(client, listing, files) -> ListingVersion:
    response = upload(client, listing, files)
    assert response.status_code == 302, response.content.decode()[:2000]
    return ListingVersion.objects.get(listing=listing)


def test_a_safetensors_folder_becomes_a_ready_version(owner_client, listing, models, media):
    version = uploaded_version(owner_client, listing, folder_uploads(models["llama"]))
    assert version.status == "uploaded"
    assert version.progress_message.startswith("Waiting")

    version = version_process(version_id=version.pk)

    assert version.status == "ready", version.error_message
    assert version.progress == 100
    assert version.storage_path == f"models/{listing.pk}/v1"
    folder = media / version.storage_path
    names = sorted(p.name for p in folder.iterdir())
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(names)
    files = {f.path: f for f in WeightFile.objects.filter(version=version)}
    assert sorted(files) == names
    for name, row in files.items():
        data = (folder / name).read_bytes()
        assert row.size_bytes == len(data)
        assert row.sha256 == hashlib.sha256(data).hexdigest()
    assert version.size_bytes == sum(f.size_bytes for f in files.values())
    assert version.architecture == "LlamaForCausalLM"
    # Embeddings and head (2 × 320 × 64), two layers of 36,992, the final norm (64).
    assert version.parameter_count == 115_008
    assert version.context_length == 256
    assert version.vocab_size == 320
    assert version.dtype == "float32"
    assert version.has_chat_template is True
    sample = version.processing_report["sample"]
    assert sample["new_tokens"] > 0 and sample["chat_template_used"] is True
    # Nothing staged remains once the version is stored.
    assert not (media / "uploads").exists() or files_under(media / "uploads") == []


def test_a_gpt2_without_chat_template_is_smoke_tested_on_plain_text(owner_client, listing, models):
    version = version_process(
        version_id=uploaded_version(owner_client, listing, folder_uploads(models["gpt2"])).pk
    )
    assert version.status == "ready", version.error_message
    assert version.architecture == "GPT2LMHeadModel"
    assert version.context_length == 128
    assert version.has_chat_template is False
    assert version.processing_report["sample"]["chat_template_used"] is False


def test_a_zip_of_a_model_folder_is_accepted(owner_client, listing, models, media):
    version = uploaded_version(
        owner_client, listing, [SimpleUploadedFile("tiny.zip", zip_of(models["llama"]))]
    )
    version = version_process(version_id=version.pk)
    assert version.status == "ready", version.error_message
    assert version.processing_report["upload"]["kind"] == "archive"
    assert version.processing_report["source"]["name"] == "tiny.zip"
    assert (media / version.storage_path / "config.json").exists()


def test_a_tar_gz_of_a_model_folder_is_accepted(owner_client, listing, models, media, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = (
        0  # the archive arrives as a temporary file, moved into place
    )
    version = uploaded_version(
        owner_client, listing, [SimpleUploadedFile("tiny.tar.gz", tar_of(models["gpt2"]))]
    )
    version = version_process(version_id=version.pk)
    assert version.status == "ready", version.error_message
    assert {f.path for f in version.files.all()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    }


def test_a_gguf_file_is_converted_once_to_plain_safetensors(owner_client, listing, models, media):
    gguf = models["gguf"]
    version = uploaded_version(
        owner_client, listing, [SimpleUploadedFile(gguf.name, gguf.read_bytes())]
    )
    assert version.source_format == "gguf"
    version = version_process(version_id=version.pk)

    assert version.status == "ready", version.error_message
    names = {f.path for f in version.files.all()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert not any(name.endswith(".gguf") for name in names)
    config = json.loads((media / version.storage_path / "config.json").read_text())
    assert "quantization_config" not in config
    assert version.architecture == "LlamaForCausalLM"
    assert version.has_chat_template is True
    assert (
        version.processing_report["source"]["sha256"]
        == hashlib.sha256(gguf.read_bytes()).hexdigest()
    )
    assert version.processing_report["sample"]["new_tokens"] > 0


def test_a_corrupt_safetensors_header_is_refused_leaving_nothing(
    owner_client, listing, models, media, tmp_path
):
    broken = tmp_path / "broken"
    shutil.copytree(models["llama"], broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes((10**9).to_bytes(8, "little") + data[8:])
    version = version_process(
        version_id=uploaded_version(owner_client, listing, folder_uploads(broken)).pk
    )

    assert version.status == "failed"
    assert "corrupt safetensors header" in version.error_message
    assert not version.files.exists()
    assert files_under(media) == []
    page = owner_client.get(
        reverse("studio:listing", kwargs={"listing_id": listing.pk})
    ).content.decode()
    assert "corrupt safetensors header" in page


def test_weights_that_do_not_match_the_config_are_refused(
    owner_client, listing, models, media, tmp_path
):
    mismatched = tmp_path / "mismatched"
    shutil.copytree(models["llama"], mismatched)
    config = json.loads((mismatched / "config.json").read_text())
    config["num_hidden_layers"] = 4
    (mismatched / "config.json").write_text(json.dumps(config))
    version = version_process(
        version_id=uploaded_version(owner_client, listing, folder_uploads(mismatched)).pk
    )
    assert version.status == "failed"
    assert "do not match the config" in version.error_message
    assert files_under(media) == []


def test_an_encoder_that_cannot_generate_is_refused(owner_client, listing, models, media):
    version = version_process(
        version_id=uploaded_version(owner_client, listing, folder_uploads(models["bert"])).pk
    )
    assert version.status == "failed"
    assert "BertModel is not a causal language model" in version.error_message
    assert files_under(media) == []


def test_a_gguf_that_is_not_gguf_is_refused(owner_client, listing, media):
    version = uploaded_version(
        owner_client, listing, [SimpleUploadedFile("fake.gguf", b"GGUF but not really")]
    )
    version = version_process(version_id=version.pk)
    assert version.status == "failed"
    assert "cannot be converted" in version.error_message
    assert files_under(media) == []


def test_version_numbers_grow_per_listing(owner_client, listing, models):
    first = uploaded_version(owner_client, listing, folder_uploads(models["gpt2"]))
    upload(owner_client, listing, folder_uploads(models["gpt2"]))
    assert sorted(listing.versions.values_list("number", flat=True)) == [
        first.number,
        first.number + 1,
    ]


def test_processing_reports_its_progress_step_by_step(owner_client, listing, models):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    version = uploaded_version(owner_client, listing, folder_uploads(models["gpt2"]))
    with CaptureQueriesContext(connection) as queries:
        version_process(version_id=version.pk)
    # Each step is its own UPDATE, committed at once, which the studio page polls meanwhile.
    updates = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "store_listingversion"')
    ]
    steps = [
        "Checking the safetensors headers",
        "Reading the model",
        "Loading the model and generating",
        "Computing the sha256",
        "Storing the model folder",
    ]
    positions = [next(i for i, sql in enumerate(updates) if step in sql) for step in steps]
    assert positions == sorted(positions)
    assert ListingVersion.objects.get(pk=version.pk).progress == 100


def test_the_upload_script_gets_the_listing_page_to_go_to(owner_client, listing, models):
    response = upload(owner_client, listing, folder_uploads(models["gpt2"]), xhr=True)
    assert response.status_code == 201
    version = ListingVersion.objects.get(listing=listing)
    assert response.json() == {
        "version": version.number,
        "redirect": f"/publish/{listing.pk}/#version-{version.number}",
    }


def test_a_version_left_processing_by_a_dead_worker_resumes_only_when_redelivered(
    owner_client, listing, models
):
    gguf = models["gguf"]
    version = uploaded_version(
        owner_client, listing, [SimpleUploadedFile(gguf.name, gguf.read_bytes())]
    )
    ListingVersion.objects.filter(pk=version.pk).update(status="processing", progress=15)

    assert version_process(version_id=version.pk).status == "processing"  # a duplicate: no-op
    resumed = version_process(version_id=version.pk, resume=True)
    assert resumed.status == "ready", resumed.error_message


def test_a_version_that_killed_its_worker_twice_is_refused(owner_client, listing, models, media):
    version = uploaded_version(owner_client, listing, folder_uploads(models["gpt2"]))
    ListingVersion.objects.filter(pk=version.pk).update(
        status="processing", processing_report={**version.processing_report, "attempts": 2}
    )
    version = version_process(version_id=version.pk, resume=True)
    assert version.status == "failed"
    assert "stopped twice" in version.error_message
    assert files_under(media) == []


@pytest.mark.parametrize("kind", ["llama", "gguf"])
def test_a_model_over_the_parameter_limit_is_refused_before_loading(
    owner_client, listing, models, media, settings, kind
):
    settings.MODEL_MAX_PARAMETERS = 10_000  # the tiny llama has 115,008
    source = models[kind]
    files = (
        [SimpleUploadedFile(source.name, source.read_bytes())]
        if kind == "gguf"
        else folder_uploads(source)
    )
    version = version_process(version_id=uploaded_version(owner_client, listing, files).pk)
    assert version.status == "failed"
    assert "115,008 weights" in version.error_message
    assert "up to 10,000" in version.error_message
    assert files_under(media) == []


def test_a_picked_folders_git_files_are_left_out(owner_client, listing, models):
    files = folder_uploads(models["gpt2"]) + [SimpleUploadedFile(".gitattributes", b"*.bin lfs")]
    version = version_process(version_id=uploaded_version(owner_client, listing, files).pk)
    assert version.status == "ready", version.error_message
    assert ".gitattributes" not in {f.path for f in version.files.all()}
