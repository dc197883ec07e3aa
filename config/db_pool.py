"""The health check of the PostgreSQL connection pool, run before a pooled connection is lent to a request.

psycopg_pool's own check sends an empty query and waits for the answer: a round trip to PostgreSQL for every request
that touches the database, whatever else it does. An idle connection that PostgreSQL has dropped (a restart, a
terminated backend, an idle timeout) has something on its socket by then: the server's FATAL message or the end of
the stream. So the socket is looked at first, without waiting: nothing to read means the connection is as healthy as
an answered empty query would show, and it is lent at once; anything to read (or a connection not idle and OK) gets
psycopg_pool's full check, which raises for a broken one so the pool discards it and lends another.

A server that vanished without closing its end (a host powered off) is not seen by either check until TCP gives up;
the database-unavailable middleware answers those requests (config/db_unavailable.py)."""
from __future__ import annotations

import select

from psycopg import Connection, pq
from psycopg_pool import ConnectionPool


def _socket_has_input(connection: Connection) -> bool:
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def pooled_connection_check(connection: Connection) -> None:
    """Return quietly when the connection can be lent; raise (psycopg's error) when it is broken."""
    if (
        connection.pgconn.status == pq.ConnStatus.OK
        and connection.info.transaction_status == pq.TransactionStatus.IDLE
        and not _socket_has_input(connection)
    ):
        return
    ConnectionPool.check_connection(connection)
