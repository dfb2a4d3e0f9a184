"""Knowledge files: text out of each accepted kind, refusals that say why, chunks that read
as passages, and retrieval that finds the passage a question is about."""

import pytest

from config.api_errors import ApplicationError
from store.gpts import knowledge

pytestmark = pytest.mark.django_db


def pdf_with(text: str) -> bytes:
    """A one-page PDF whose page shows ``text`` (built by hand: offsets and all)."""
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_each_accepted_kind_gives_its_text():
    assert knowledge.text_of(name="a.txt", data=b"plain words") == ("text", "plain words")
    assert knowledge.text_of(name="b.md", data=b"# Title\n\nBody") == (
        "markdown",
        "# Title\n\nBody",
    )
    kind, text = knowledge.text_of(
        name="c.html",
        data=b"<html><head><title>t</title><script>var secret=1</script></head>"
        b"<body><h1>Refunds</h1><p>Within 14 days.</p><style>p{}</style></body></html>",
    )
    assert kind == "html"
    assert "Refunds" in text and "Within 14 days." in text
    assert "secret" not in text and "p{}" not in text
    kind, text = knowledge.text_of(name="d.pdf", data=pdf_with("Paris is the capital"))
    assert (kind, text) == ("pdf", "Paris is the capital")


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("weights.bin", b"x", "unsupported_file_type"),
        ("latin.txt", "café".encode("latin-1"), "unreadable_file"),
        ("blank.md", b"  \n\n ", "empty_file"),
        ("broken.pdf", b"%PDF-1.4 not really", "unreadable_file"),
    ],
)
def test_a_file_that_cannot_be_knowledge_is_refused_saying_why(name, data, code):
    with pytest.raises(ApplicationError) as refused:
        knowledge.text_of(name=name, data=data)
    assert refused.value.code == code
    assert refused.value.field == "file"


def test_chunks_keep_paragraphs_whole_and_stay_within_the_limit():
    paragraphs = [f"Paragraph {n}. " + "word " * 30 for n in range(20)]
    chunks = knowledge.chunks_of("\n\n".join(paragraphs), limit=400)
    assert all(len(chunk) <= 400 for chunk in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == "".join(paragraphs).replace(
        " ", ""
    )
    # No paragraph is cut when whole paragraphs fit.
    assert all(chunk.startswith("Paragraph") for chunk in chunks)
    one_long = knowledge.chunks_of("x" * 2500, limit=1000)
    assert [len(c) for c in one_long] == [1000, 1000, 500]


def test_words_are_quoted_so_nothing_in_them_is_tsquery_syntax():
    assert knowledge.tsquery_of(["refund", "it's", "a\\b"]) == "'refund' | 'it''s' | 'a\\\\b'"
