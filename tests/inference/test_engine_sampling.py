"""Per-row sampling: greedy at temperature 0, nucleus filtering, seeded generators, and
OpenAI's presence/frequency penalties and logit biases."""

import torch

from inference.engine.sampling import Steering, choose_tokens, make_generator, steer, top_p_filter


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


def test_penalties_count_what_the_row_generated_and_biases_add_to_the_logit():
    logits = torch.zeros((2, 5))
    steering = Steering(presence_penalty=0.5, frequency_penalty=0.25, logit_bias={4: 3.0})

    steered = steer(logits, [(1, steering, [2, 2, 3])])

    assert steered[0].tolist() == [0.0] * 5  # a row without steering is untouched
    # token 2 seen twice: 0.5 + 2 * 0.25; token 3 once: 0.5 + 0.25; token 4 biased.
    assert steered[1].tolist() == [0.0, 0.0, -1.0, -0.75, 3.0]
    assert logits.abs().sum() == 0  # the caller's logits are not changed


def test_a_greedy_row_follows_its_bias_and_the_others_do_not():
    logits = torch.tensor([[0.0, 5.0, 1.0], [0.0, 5.0, 1.0]])

    chosen = choose_tokens(
        logits,
        temperatures=[0.0, 0.0],
        top_ps=[1.0, 1.0],
        generators=[make_generator(1), make_generator(1)],
        steered=[(1, Steering(logit_bias={1: -100.0}), [])],
    )

    assert chosen == [1, 2]


def test_a_temperature_next_to_zero_answers_the_argmax_instead_of_failing():
    # 1e-308 is a valid temperature; dividing by it overflows float32 to inf (the fuzzer sent
    # it and got a 500 "probability tensor contains inf or nan"). Its limit is greedy.
    logits = torch.tensor([[1.0, 3.0, 2.0], [0.5, 0.1, 0.2]])
    chosen = choose_tokens(
        logits,
        temperatures=[1e-308, 1e-300],
        top_ps=[1.0, 0.9],
        generators=[make_generator(1), make_generator(2)],
    )
    assert chosen == [1, 0]
