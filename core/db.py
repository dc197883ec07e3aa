"""Statements that every dashboard view and guest lookup runs, prepared once per PostgreSQL connection."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from django.db import connection


class _PreparedCursor(psycopg.Cursor):
    """Binds parameters on the server and prepares each statement on its first execution on the connection. It
    keeps the statement it sent, as psycopg's client-binding cursor does: Django's query log reads it there (with
    $1, $2... where the client-binding log shows the values)."""

    def _maybe_prepare_gen(self, pgq, *, prepare=None, binary=None):
        self._query = pgq
        return super()._maybe_prepare_gen(pgq, prepare=True, binary=binary)


@contextlib.contextmanager
def cursor_prepared() -> Iterator:
    """A cursor whose statements PostgreSQL plans once per connection instead of at every execution. For the few
    statements run on every view of a page, whose planning costs PostgreSQL several times their execution (the
    account data version's subqueries: 0.25-0.3 ms to plan, 0.05 to run). Connections come from a pool and live
    long, so each prepares a statement once. Queries still go through Django's cursor wrapper (errors, logging,
    the test suite's query counts). Elsewhere (SQLite) it is Django's ordinary cursor.

    Parameters are bound by the server: each must be a plain value of its column's type, and statements that read
    timestamps should use the ORM (the connection's time zone is set for Django's own cursors)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection._prepare_cursor(_PreparedCursor(connection.connection))
    with cursor:
        yield cursor


@contextlib.contextmanager
def statements_pipelined() -> Iterator[None]:
    """Statements executed inside go to PostgreSQL together and are answered in one round trip (psycopg's pipeline
    mode): execute every one before fetching any, since a fetch waits for the answers up to its statement. For a
    request's independent reads, each round trip costing more than the statement. Elsewhere (SQLite) they run one
    after another as usual."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def sql_table(model) -> str:
    """The model's table, quoted for the connection: for statements written out once (see cursor_prepared)."""
    return connection.ops.quote_name(model._meta.db_table)


def sql_column(model, field_name: str, *, qualified: bool = True) -> str:
    """The field's column, quoted, with its table in front unless `qualified` is False."""
    column = connection.ops.quote_name(model._meta.get_field(field_name).column)
    return f"{sql_table(model)}.{column}" if qualified else column
