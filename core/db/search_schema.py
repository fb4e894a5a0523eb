"""Full-text search structures that live beside the models rather than in them.

SQLite: FTS5 tables ``messages_fts`` (message text) and ``clients_fts`` (client names), with
external content, kept in step with their tables by triggers. The ``unicode61`` tokenizer with
``remove_diacritics 2`` folds case for Cyrillic as well as Latin, so "Привет" finds "привет".

PostgreSQL: GIN indexes over ``to_tsvector('simple', …)``: the ``simple`` configuration
lowercases without stemming, so Russian and English behave alike and a word finds itself.

Migration ``0009_answers_search`` creates them; ``include_object`` keeps Alembic's model
comparison from reporting them as tables or indexes that no model declares.
"""

from __future__ import annotations

from typing import Any

FTS_TABLES = ("messages_fts", "clients_fts")
PG_MESSAGE_INDEX = "ix_messages_text_search"
PG_CLIENT_INDEX = "ix_clients_name_search"
TS_CONFIG = "simple"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: skip the search tables (and FTS5's shadow tables) and indexes."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(FTS_TABLES):
        return False
    return not (type_ == "index" and name in (PG_MESSAGE_INDEX, PG_CLIENT_INDEX))
