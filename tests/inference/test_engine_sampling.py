"""Per-row sampling: greedy at temperature 0, nucleus filtering, seeded generators."""

import torch

from inference.engine.sampling import choose_tokens, make_generator, top_p_filter


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))

    kept = top_p_filter(logits, torch.tensor([0.75])).isfinite().tolist()

    assert kept == [[True, True, False, False]]


def test_top_p_always_keeps_the_most_likely_token():
    logits = torch.log(torch.tensor([[0.1, 0.9]]))

    kept = top_p_filter(logits, torch.tensor([0.01])).isfinite().tolist()

    assert kept == [[False, True]]


def test_rows_follow_their_own_parameters():
    logits = torch.tensor([[0.0, 5.0, 1.0], [0.0, 5.0, 1.0], [3.0, 0.0, 3.1]])

    chosen = choose_tokens(
        logits,
        temperatures=[0.0, 1.0, 1.0],
        top_ps=[1.0, 1e-6, 1.0],
        generators=[make_generator(1), make_generator(1), make_generator(1)],
    )

    assert chosen[:2] == [1, 1]  # greedy, and a nucleus of one token
    assert chosen[2] in {0, 1, 2}


def test_the_same_seed_draws_the_same_tokens():
    logits = torch.zeros((1, 50))

    def draws(seed):
        generator = make_generator(seed)
        return [
            choose_tokens(logits, temperatures=[1.0], top_ps=[1.0], generators=[generator])[0]
            for _ in range(20)
        ]

    assert draws(9) == draws(9)
    assert draws(9) != draws(10)
