"""The engine's own Llama forward pass computes what transformers' forward computes."""

import pytest
import torch

from inference.engine.kv_cache import new_cache
from inference.engine.llama import LaneInput
from inference.engine.model_cache import ModelCache
from tests.support.models import build_model_folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    for kind in ("gpt2", "llama"):
        build_model_folder(root / kind, kind=kind, seed=5)
    cache = ModelCache(root=root, budget_bytes=2**30)
    return {kind: cache.acquire(kind) for kind in ("gpt2", "llama")}


def test_a_llama_runs_on_the_engines_own_forward_and_other_models_on_transformers(models):
    assert models["llama"].runner is not None
    assert models["gpt2"].runner is None


def test_own_forward_is_off_when_the_setting_says_so(tmp_path):
    build_model_folder(tmp_path / "llama", kind="llama")
    cache = ModelCache(root=tmp_path, budget_bytes=2**30, own_forward=False)
    assert cache.acquire("llama").runner is None


def test_padded_chunked_prefill_and_decode_give_transformers_logits(models):
    loaded = models["llama"]
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(3, 300, (3, 12), generator=generator)
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # left padding, as the engine lays out a group of prompts
    mask[2, :2] = 0
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    theirs, ours = new_cache(), new_cache()
    with torch.inference_mode():
        for start, end in ((0, 5), (5, 12)):  # two chunks
            want = loaded.model(
                input_ids=ids[:, start:end],
                attention_mask=mask[:, :end],
                position_ids=positions[:, start:end],
                past_key_values=theirs,
                use_cache=True,
            ).logits[:, -1]
            got = loaded.runner.forward(
                ids[:, start:end], positions[:, start:end], [LaneInput(ours, mask[:, :end], 3)]
            )
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        tokens, positions = want.argmax(-1, keepdim=True), positions[:, -1:] + 1
        for _ in range(4):
            mask = torch.cat([mask, mask.new_ones((3, 1))], dim=1)
            want = loaded.model(
                input_ids=tokens,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=theirs,
                use_cache=True,
            ).logits[:, -1]
            got = loaded.runner.forward(tokens, positions, [LaneInput(ours, mask, 3)])
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
            tokens, positions = want.argmax(-1, keepdim=True), positions + 1


def test_rows_in_two_lanes_get_the_logits_each_lane_would_get_alone(models):
    runner = models["llama"].runner
    generator = torch.Generator().manual_seed(4)
    prompts = [torch.randint(3, 300, (2, 3), generator=generator)]
    prompts.append(torch.randint(3, 300, (1, 20), generator=generator))

    def prefilled() -> list[tuple]:
        lanes = []
        for ids in prompts:
            cache, mask = new_cache(), torch.ones_like(ids)
            runner.forward(ids, mask.cumsum(-1) - 1, [LaneInput(cache, mask, len(ids))])
            lanes.append((cache, torch.cat([mask, mask.new_ones((len(ids), 1))], dim=1)))
        return lanes

    tokens = torch.tensor([[7], [8], [9]])
    positions = torch.tensor([[3], [3], [20]])
    with torch.inference_mode():
        together = runner.forward(
            tokens, positions, [LaneInput(c, mask, len(mask)) for c, mask in prefilled()]
        )
        for (first, last), (cache, mask) in zip(((0, 2), (2, 3)), prefilled(), strict=True):
            alone = runner.forward(
                tokens[first:last], positions[first:last], [LaneInput(cache, mask, last - first)]
            )
            torch.testing.assert_close(together[first:last], alone)
