"""Django's PostgreSQL backend with the connection pool's health check of config/db_pool.py
(ENGINE "config.postgresql")."""
