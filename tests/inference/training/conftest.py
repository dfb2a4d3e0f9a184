import pytest

from tests.inference.model_builders import build_model


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    """A 2-layer Llama with random weights (no chat template: chats are role-prefixed lines),
    whose attention adapters learn a fixed answer in a few dozen steps."""
    return build_model(tmp_path_factory.mktemp("tiny-llama") / "model", kind="llama", context=256)


@pytest.fixture(scope="session")
def slower_llama_dir(tmp_path_factory):
    """A wider 4-layer Llama: a training step takes tens of milliseconds, long enough for a
    test to cancel a run or kill its worker between two steps."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from tests.inference.model_builders import build_tokenizer

    path = tmp_path_factory.mktemp("slower-llama") / "model"
    path.mkdir(parents=True)
    tokenizer = build_tokenizer(path)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=256,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(str(path))
    return path
