"""The engine's thread count per step: the faster one, with the other tried now and then."""

import torch

from inference.engine.threads import ThreadChooser


def test_one_core_means_one_thread_always():
    chooser = ThreadChooser(1)
    assert {chooser.pick("decode", rows) for rows in (1, 16, 64)} == {1}


def test_each_count_is_tried_then_the_faster_one_is_kept():
    chooser = ThreadChooser(2, explore_every=10)
    first = chooser.pick("decode", 4)
    chooser.record("decode", 4, first, 0.050)
    second = chooser.pick("decode", 4)
    chooser.record("decode", 4, second, 0.030)

    assert {first, second} == {1, 2}
    assert [chooser.pick("decode", 4) for _ in range(7)] == [second] * 7


def test_the_slower_count_is_tried_again_and_a_changed_host_changes_the_choice():
    chooser = ThreadChooser(2, explore_every=4)
    chooser.record("decode", 1, 2, 0.020)  # both cores free: two threads faster
    chooser.record("decode", 1, 1, 0.040)
    picks = [chooser.pick("decode", 1) for _ in range(8)]
    assert picks.count(2) == 6 and picks.count(1) == 2

    for _ in range(10):  # the other core got busy: two threads now stall
        chooser.record("decode", 1, 2, 0.120)
    assert chooser.pick("decode", 1) == 1


def test_batch_sizes_and_kinds_of_step_are_timed_apart():
    chooser = ThreadChooser(2)
    chooser.record("decode", 1, 1, 0.010)
    chooser.record("decode", 1, 2, 0.020)
    chooser.record("decode", 16, 1, 0.090)
    chooser.record("decode", 16, 2, 0.050)
    chooser.record("prefill", 1, 1, 0.5)
    chooser.record("prefill", 1, 2, 0.3)

    assert chooser.pick("decode", 1) == 1
    assert chooser.pick("decode", 16) == 2
    assert chooser.pick("prefill", 1) == 2


def test_run_sets_torchs_thread_count_for_the_step():
    previous = torch.get_num_threads()
    chooser = ThreadChooser(2)
    try:
        seen = [chooser.run("decode", 1, torch.get_num_threads) for _ in range(2)]
    finally:
        torch.set_num_threads(previous)
    assert sorted(seen) == [1, 2]
