"""Retrieval: the passage a question is about comes first, only the GPT's own files are
searched, a question with no known word finds nothing, and words most chunks hold do not
drown the telling one."""

import pytest

from store.gpts import services
from store.gpts.knowledge import COMMON_FLOOR, passages_for
from tests.store.gpts.builders import draft_gpt, metered_listing

pytestmark = pytest.mark.django_db

# Three sections long enough to be three chunks (CHUNK_CHARS is 1,000).
GUIDE = "\n\n".join(
    [
        "Refunds: a purchase can be refunded within fourteen days. " * 12,
        "Rentals: a token pack expires after its days; unused tokens stay unused. " * 12,
        "Payouts: publishers are paid monthly once earnings pass ten dollars. " * 12,
    ]
).encode()


@pytest.fixture
def gpt(user, tiny_model_dirs):  # noqa: F811
    return draft_gpt(user, metered_listing(tiny_model_dirs[True]))


def test_the_passage_a_question_is_about_ranks_first(gpt, user):
    item = services.knowledge_add(gpt=gpt, actor=user, name="guide.md", data=GUIDE)
    assert item.chunks.count() == 3
    found = passages_for(file_ids=[item.pk], question="When are publishers paid?")
    assert found[0].text.startswith("Payouts")
    assert len(found) == 1  # the other sections share no word with the question
    assert found[0].file_name == "guide.md"


def test_only_the_given_files_are_searched(gpt, user, other_user, tiny_model_dirs):  # noqa: F811
    mine = services.knowledge_add(gpt=gpt, actor=user, name="guide.md", data=GUIDE)
    theirs_gpt = draft_gpt(other_user, gpt.base_listing, name="Other")
    theirs = services.knowledge_add(
        gpt=theirs_gpt, actor=other_user, name="secret.txt", data=b"Payouts are secret here."
    )
    found = passages_for(file_ids=[mine.pk], question="payouts")
    assert {p.file_id for p in found} == {mine.pk}
    assert theirs.pk not in {p.file_id for p in found}


def test_a_question_of_stop_words_finds_nothing(gpt, user):
    item = services.knowledge_add(gpt=gpt, actor=user, name="guide.md", data=GUIDE)
    assert passages_for(file_ids=[item.pk], question="what is the") == []


def test_a_question_full_of_tsquery_syntax_finds_its_passage(gpt, user):
    item = services.knowledge_add(gpt=gpt, actor=user, name="guide.md", data=GUIDE)
    found = passages_for(file_ids=[item.pk], question="Refund & (policy) | !x's? <-> :*")
    assert [p.text[:7] for p in found] == ["Refunds"]


def test_words_most_chunks_hold_are_left_out_unless_they_are_all_there_is(gpt, user):
    # One paragraph per chunk; every chunk speaks of the store, one of a lighthouse.
    paragraphs = [
        f"The store keeps record {i}. " + "Models answer questions quickly. " * 25
        for i in range(2 * COMMON_FLOOR)
    ]
    paragraphs[37] += " A lighthouse stands here."
    item = services.knowledge_add(
        gpt=gpt, actor=user, name="manual.md", data="\n\n".join(paragraphs).encode()
    )
    assert item.chunk_count == 2 * COMMON_FLOOR == item.chunks.count()
    assert item.terms.get(word="store").chunks == 2 * COMMON_FLOOR
    assert item.terms.get(word="lighthous").chunks == 1

    found = passages_for(file_ids=[item.pk], question="Where in the store is the lighthouse?")
    assert [p.text.split(".")[0] for p in found] == ["The store keeps record 37"]
    # Only common words: the rarest of them is searched for, and passages still come back.
    assert len(passages_for(file_ids=[item.pk], question="store models")) == 5
