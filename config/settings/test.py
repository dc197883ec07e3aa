"""The test suite: fast hashing, Celery tasks run in-process, the same database engine as DATABASE_URL."""
from .base import *

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

if not REDIS_URL:
    # Each test process keeps its own layer: the embedded SQLite layer's file in VAR_DIR would be shared by
    # concurrent runs. tests/config/test_channel_layers.py tests that layer across real processes.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Database sessions whatever the cache: the query-count tests count a signed-in request's session read alike with and
# without Redis. tests/portal/test_session_cache.py tests the cached sessions production runs with Redis.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Likewise the user row is read from the database on every request; tests/config/test_auth_user_cache.py tests the
# cached one.
AUTH_USER_CACHE_SECONDS = 0
