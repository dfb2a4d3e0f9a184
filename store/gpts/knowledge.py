"""Knowledge files: text out of uploads (text, Markdown, HTML, PDF), split into chunks,
indexed with PostgreSQL full-text search, and the best chunks for a question.

A chunk is at most CHUNK_CHARS characters, cut at paragraph, then sentence, then word
boundaries, so that a retrieved chunk reads as a passage.
"""

import hashlib
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import connection
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from config.api_errors import ApplicationError
from store.gpts.models import KnowledgeChunk

CHUNK_CHARS = 1000
KINDS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
         ".html": "html", ".htm": "html", ".pdf": "pdf"}  # fmt: skip
QUERY_WORDS = 32
QUESTION_CHARS = 4000  # what of a question is searched for (its start)
# A word held by more than this share of a GPT's chunks (and more than COMMON_FLOOR of them)
# is left out of its searches.
COMMON_SHARE = 0.1
COMMON_FLOOR = 50
CANDIDATES = 1000  # the most chunks ranked for one question


class _TextOfHtml(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "head"}
    BLOCKS = {"p", "div", "section", "article", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6",
              "tr", "pre", "blockquote", "table", "ul", "ol"}  # fmt: skip

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def kind_of(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = KINDS.get(suffix)
    if kind is None:
        raise ApplicationError(
            "Knowledge files are text (.txt), Markdown (.md), HTML (.html) or PDF (.pdf).",
            code="unsupported_file_type",
            field="file",
        )
    return kind


def upload_size_check(*, name: str, size: int) -> None:
    """A knowledge file is at most GPT_KNOWLEDGE_MAX_BYTES: checked on an upload's declared
    size before it is read, and on the bytes a service receives."""
    if size > settings.GPT_KNOWLEDGE_MAX_BYTES:
        raise ApplicationError(
            f"{name} is {size:,} bytes; a knowledge file is at most "
            f"{settings.GPT_KNOWLEDGE_MAX_BYTES:,}.",
            code="file_too_large",
            field="file",
        )


def text_of(*, name: str, data: bytes) -> tuple[str, str]:
    """(kind, text) of an upload; a clear error for anything unreadable or empty."""
    kind = kind_of(name)
    if kind == "pdf":
        try:
            reader = PdfReader(io.BytesIO(data))
            text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
        except (PdfReadError, ValueError, KeyError, TypeError) as exc:
            raise ApplicationError(
                f"{name} could not be read as a PDF.", code="unreadable_file", field="file"
            ) from exc
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ApplicationError(
                f"{name} is not UTF-8 text.", code="unreadable_file", field="file"
            ) from exc
        if kind == "html":
            parser = _TextOfHtml()
            parser.feed(text)
            parser.close()
            text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text.replace("\x00", ""))
    text = re.sub(r"\n\s*\n\s*", "\n\n", text).strip()
    if not text:
        raise ApplicationError(f"{name} has no text in it.", code="empty_file", field="file")
    if len(text) > settings.GPT_KNOWLEDGE_MAX_CHARS:
        raise ApplicationError(
            f"{name} holds {len(text):,} characters of text; a knowledge file holds at most "
            f"{settings.GPT_KNOWLEDGE_MAX_CHARS:,}.",
            code="file_too_large",
            field="file",
        )
    return kind, text


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters at the widest boundary."""
    if len(text) <= limit:
        return [text]
    for pattern in (r"\n\n", r"(?<=[.!?])\s+", r"\s+"):
        parts = [part for part in re.split(pattern, text) if part.strip()]
        if len(parts) > 1:
            break
    else:
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    pieces: list[str] = []
    for part in parts:
        pieces.extend(_pieces(part, limit))
    return pieces


def chunks_of(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Consecutive pieces joined up to ``limit`` characters."""
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        joined = f"{current}\n\n{piece}" if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def index_file(knowledge_file) -> None:
    """Writes the chunks' search vectors, then how many chunks hold each of their words
    (two statements, in the database)."""
    KnowledgeChunk.objects.filter(file=knowledge_file).update(search=_vector_sql())
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO store_knowledgeterm (file_id, word, chunks)
            SELECT %s, word, ndoc
            FROM ts_stat(format('SELECT search FROM store_knowledgechunk WHERE file_id = %%s', %s))
            """,
            [knowledge_file.pk, knowledge_file.pk],
        )


def _vector_sql():
    return SearchVector("text", config="english")


@dataclass(frozen=True)
class Passage:
    file_id: int
    file_name: str
    text: str
    rank: float


def _words_of(file_ids: list[int], question: str) -> list[str]:
    """The question's words (English lexemes, stop words out) worth searching for, rarest
    first. A word more than COMMON_SHARE of the files' chunks hold (and more than
    COMMON_FLOOR) tells passages apart no better than "the" and is left out; of the rest,
    the rarest are taken while the chunks holding them add up to at most CANDIDATES (ranking
    every chunk that holds a common word is what makes retrieval slow: bench/gpt_retrieval.py).
    When every word is common, the rarest one is kept."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT w.word, coalesce(sum(t.chunks), 0) AS chunks,
                   (SELECT coalesce(sum(f.chunk_count), 0) FROM store_knowledgefile f
                    WHERE f.id = ANY(%s)) AS total
            FROM unnest(tsvector_to_array(to_tsvector('english', %s))) AS w(word)
            LEFT JOIN store_knowledgeterm t ON t.word = w.word AND t.file_id = ANY(%s)
            GROUP BY w.word
            ORDER BY chunks, w.word
            """,
            [list(file_ids), question[:QUESTION_CHARS], list(file_ids)],
        )
        found = [(word, chunks, total) for word, chunks, total in cursor.fetchall() if chunks]
    if not found:
        return []
    common = max(COMMON_FLOOR, found[0][2] * COMMON_SHARE)
    words, candidates = [], 0
    for word, chunks, _ in found:
        if words and (chunks > common or candidates + chunks > CANDIDATES):
            break
        words.append(word)
        candidates += chunks
    return words[:QUERY_WORDS]


def tsquery_of(words: list[str]) -> str:
    """Any of ``words`` as tsquery text: each a quoted lexeme (quotes and backslashes
    escaped), so nothing in a word is tsquery syntax."""
    return " | ".join("'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in words)


def passages_for(*, file_ids: list[int], question: str, limit: int = 5) -> list[Passage]:
    """The best chunks of ``file_ids`` for ``question``, best first: of the chunks holding
    any of the question's telling words (_words_of; GIN index), at most CANDIDATES are
    ranked by cover density."""
    if not file_ids:
        return []
    words = _words_of(file_ids, question)
    if not words:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.file_id, f.name, c.text, best.rank
            FROM (
                SELECT m.id, ts_rank_cd(m.search, q) AS rank
                FROM (
                    SELECT id, search FROM store_knowledgechunk
                    WHERE file_id = ANY(%(files)s) AND search @@ CAST(%(query)s AS tsquery)
                    LIMIT %(candidates)s
                ) m, CAST(%(query)s AS tsquery) q
                ORDER BY rank DESC, m.id
                LIMIT %(limit)s
            ) best
            JOIN store_knowledgechunk c ON c.id = best.id
            JOIN store_knowledgefile f ON f.id = c.file_id
            ORDER BY best.rank DESC, c.id
            """,
            {
                "files": list(file_ids),
                "query": tsquery_of(words),
                "candidates": CANDIDATES,
                "limit": limit,
            },
        )
        return [Passage(*row) for row in cursor.fetchall()]
