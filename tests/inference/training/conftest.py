import pytest

from tests.support.models import build_model_folder


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    """A 2-layer Llama with random weights (no chat template: chats are role-prefixed lines),
    whose attention adapters learn a fixed answer in a few dozen steps."""
    return build_model_folder(tmp_path_factory.mktemp("tiny-llama") / "model", kind="llama")


@pytest.fixture(scope="session")
def slower_llama_dir(tmp_path_factory):
    """A wider 4-layer Llama: a training step takes tens of milliseconds, long enough for a
    test to cancel a run or kill its worker between two steps."""
    return build_model_folder(
        tmp_path_factory.mktemp("slower-llama") / "model",
        kind="llama",
        layers=4,
        hidden=256,
        heads=8,
        kv_heads=4,
        intermediate=768,
    )
