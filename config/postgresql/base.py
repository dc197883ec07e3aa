"""Django's PostgreSQL backend whose connection pool checks a connection as config/db_pool.py does before lending it.

Django gives psycopg_pool its round-trip check when CONN_HEALTH_CHECKS is on, and the pool takes a check only when it
is made, so the check is replaced on the pool Django has just made. Should psycopg_pool ever rename the attribute,
its own (correct, slower) check stays in force."""
from __future__ import annotations

from django.db.backends.postgresql import base

from config.db_pool import pooled_connection_check


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None and getattr(pool, "_check", None) is not None:
            pool._check = pooled_connection_check
        return pool
