"""seed_demo publishes the demo catalog through the real pipeline, once."""

import io

import pytest
from django.core.management import call_command

from store.models import Listing, ListingStatusChange, ListingVersion
from tests.support.factories import gpt_categories_restore

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def gpt_categories():
    # The demo GPTs are filed under the migration's categories.
    gpt_categories_restore()


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", toy_train_seconds=2, stdout=out)
    return out.getvalue()


def test_seed_demo_publishes_the_real_model_and_the_toy_once(media):
    first = seed()

    smol = Listing.objects.get(publisher__slug="gptstore-labs", slug="smollm2-135m-instruct")
    toy = Listing.objects.get(publisher__slug="gptstore-labs", slug="pocket-parrot")
    assert (smol.status, smol.featured, smol.license) == ("approved", True, "apache-2.0")
    assert (toy.status, toy.featured) == ("approved", False)
    assert "This is a toy" in toy.card_markdown
    assert "Q4_1" in smol.card_markdown and "Limits" in smol.card_markdown

    real = smol.versions.get()
    assert real.status == "ready" and real.source_format == "gguf"
    assert (real.architecture, real.vocab_size, real.context_length) == (
        "LlamaForCausalLM",
        49152,
        8192,
    )
    assert real.has_chat_template is True
    assert 130_000_000 < real.parameter_count < 140_000_000
    assert real.processing_report["sample"]["text"].strip()
    assert (media / real.storage_path / "model.safetensors").exists()
    assert {f.path for f in real.files.all()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    }

    parrot = toy.versions.get()
    assert (parrot.status, parrot.architecture, parrot.has_chat_template) == (
        "ready",
        "GPT2LMHeadModel",
        True,
    )
    assert "trained Pocket Parrot" in first

    changes = ListingStatusChange.objects.count()
    second = seed()
    assert "processing" not in second and "trained" not in second
    assert ListingVersion.objects.count() == 2
    assert ListingStatusChange.objects.count() == changes
    assert Listing.objects.filter(publisher__slug="gptstore-labs").count() == 2

    # The GPT store has the demo GPTs on SmolLM2, approved, the help desk featured with its
    # help file as knowledge; seeding again adds none.
    from store.gpts.models import Gpt
    from store.gpts.policies import is_listed

    gpts = {gpt.slug: gpt for gpt in Gpt.objects.select_related("published")}
    assert set(gpts) == {"store-help-desk", "story-spark", "python-buddy"}
    assert all(is_listed(gpt) and gpt.published.base_listing == smol for gpt in gpts.values())
    desk = gpts["store-help-desk"]
    assert desk.featured
    assert list(desk.published.knowledge.values_list("name", flat=True)) == ["store-help.md"]
    assert "GPT       gpt:" in first and "GPT       gpt:" not in second
