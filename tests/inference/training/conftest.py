import pytest

from tests.inference.model_builders import build_model


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    """A 2-layer Llama with random weights (no chat template: chats are role-prefixed lines),
    whose attention adapters learn a fixed answer in a few dozen steps."""
    return build_model(tmp_path_factory.mktemp("tiny-llama") / "model", kind="llama", context=256)
