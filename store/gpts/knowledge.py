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
from django.db import connection

from config.api_errors import ApplicationError

CHUNK_CHARS = 1000
KINDS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
         ".html": "html", ".htm": "html", ".pdf": "pdf"}  # fmt: skip
QUERY_WORDS = 32


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


def text_of(*, name: str, data: bytes) -> tuple[str, str]:
    """(kind, text) of an upload; a clear error for anything unreadable or empty."""
    kind = kind_of(name)
    if kind == "pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

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
    """Writes the chunks' search vectors (one statement, in the database)."""
    from store.gpts.models import KnowledgeChunk

    KnowledgeChunk.objects.filter(file=knowledge_file).update(search=_vector_sql())


def _vector_sql():
    from django.contrib.postgres.search import SearchVector

    return SearchVector("text", config="english")


@dataclass(frozen=True)
class Passage:
    file_id: int
    file_name: str
    text: str
    rank: float


def query_of(question: str) -> str:
    """A to_tsquery text matching any of the question's words (ranked by how many and how
    close): the words are plain \\w+ runs, so nothing in them is tsquery syntax."""
    words: list[str] = []
    for word in re.findall(r"\w+", question.lower()):
        if len(word) > 1 and word not in words:
            words.append(word)
        if len(words) == QUERY_WORDS:
            break
    return " | ".join(words)


def passages_for(*, file_ids: list[int], question: str, limit: int = 5) -> list[Passage]:
    """The best chunks of ``file_ids`` for ``question``, best first (GIN index, one query)."""
    query = query_of(question)
    if not file_ids or not query:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.file_id, f.name, c.text, ts_rank_cd(c.search, q) AS rank
            FROM store_knowledgechunk c
            JOIN store_knowledgefile f ON f.id = c.file_id,
                 to_tsquery('english', %s) q
            WHERE c.file_id = ANY(%s) AND c.search @@ q
            ORDER BY rank DESC, c.id
            LIMIT %s
            """,
            [query, list(file_ids), limit],
        )
        return [Passage(*row) for row in cursor.fetchall()]
