"""Detokenization never shows broken characters; stop strings never leak."""

import pytest

from inference.engine.model_cache import ModelCache
from inference.engine.scheduler import Scheduler
from inference.engine.text import REPLACEMENT, IncrementalDecoder, StopMatcher
from tests.support.models import build_model_folder, build_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_model_folder(root / "gpt2", kind="gpt2", seed=11)
    return ModelCache(root=root, budget_bytes=2**30).acquire("gpt2")


def test_multibyte_characters_split_over_tokens_are_emitted_whole(tokenizer):
    text = " emoji 🙂🚀 and 漢字 and déjà"
    ids = tokenizer(text)["input_ids"]
    decoder = IncrementalDecoder(tokenizer, tokenizer("Say:")["input_ids"])

    pieces = [decoder.push(token) for token in ids]

    assert not any(REPLACEMENT in piece for piece in pieces)
    assert "".join(pieces) + decoder.flush() == text
    assert "" in pieces, "some characters took more than one token (the case under test)"


def test_stop_text_is_held_back_until_it_is_known_not_to_be_a_stop():
    matcher = StopMatcher(["\n\nUser:"])

    assert matcher.feed("Hello") == ("Hello", False)
    assert matcher.feed("\n\nUs") == ("", False)
    assert matcher.feed("ually") == ("\n\nUsually", False)
    assert matcher.feed(" yes\n\nUser: hi") == (" yes", True)


def test_the_earliest_of_several_stop_strings_wins():
    matcher = StopMatcher(["END", "."])

    assert matcher.feed("One. Two END") == ("One", True)


def test_held_back_text_is_released_when_the_choice_ends_without_a_stop():
    matcher = StopMatcher(["###"])

    assert matcher.feed("a list #") == ("a list ", False)
    assert matcher.finish("#") == ("##", False)


def test_without_stop_strings_all_text_flows():
    matcher = StopMatcher([])

    assert matcher.feed("any text") == ("any text", False)


def test_the_engine_emits_the_text_before_a_stop_string_and_finishes_with_stop(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer("The quick brown fox")["input_ids"]
    plain = scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=40, temperature=0)
    assert plain.done.wait(60)
    full = "".join(c for c in _texts(plain))
    clean = [i for i in range(4, len(full) - 2) if REPLACEMENT not in full[i : i + 2]]
    assert clean, f"no usable stop string in {full!r}"
    stop = full[clean[len(clean) // 2] : clean[len(clean) // 2] + 2]

    stopped = scheduler.submit(
        model=tiny, prompt_ids=ids, max_tokens=40, temperature=0, stop=[stop, "never-there"]
    )
    assert stopped.done.wait(60)
    events = _drain(stopped)

    text = "".join(e["text"] for e in events if e["type"] == "delta")
    finish = next(e for e in events if e["type"] == "finish")
    assert text == full[: full.find(stop)]
    assert stop not in text
    assert finish["finish_reason"] == "stop"
    assert finish["completion_tokens"] < plain.completion_tokens


def _drain(request) -> list[dict]:
    events = []
    while not request.events.empty():
        events.append(request.events.get_nowait())
    return events


def _texts(request):
    return [e["text"] for e in _drain(request) if e["type"] == "delta"]
