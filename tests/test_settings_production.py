"""config.settings.production: clean under `check --deploy` with a proper environment, refuses every unsafe value."""
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
SAFE_SECRET_KEY = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(60))
# Variables the production settings read; the parent's values (CI sets DATABASE_URL, REDIS_URL) must not leak in.
PRODUCTION_VARIABLES = ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")


def production_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        VAR_DIR=str(tmp_path),
        SECRET_KEY=SAFE_SECRET_KEY,
        ALLOWED_HOSTS="95598.example.cn",
        DATABASE_URL="postgres://power:secret@127.0.0.1:5432/power95598",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def test_check_deploy_is_clean_with_a_production_environment(tmp_path):
    result = run_python(production_env(tmp_path), "manage.py", "check", "--deploy")

    assert result.returncode == 0, result.stderr
    # The one silenced check is allauth's account.W001 (settings: sign-up needs a phone, or an email with a password,
    # which allauth's per-field check cannot express).
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."
    assert "WARNING" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEBUG": "1"}, "DEBUG must be off in production."),
        ({"SECRET_KEY": None}, "SECRET_KEY must be set in the environment (at least 50 characters)."),
        (
            {"SECRET_KEY": "django-insecure-95598-dev-only-never-in-production"},
            "SECRET_KEY must be set in the environment (at least 50 characters).",
        ),
        ({"SECRET_KEY": "x" * 49}, "SECRET_KEY must be set in the environment (at least 50 characters)."),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set in the environment."),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS must be set in the environment."),
        ({"DATABASE_URL": None}, "DATABASE_URL must point at PostgreSQL in production."),
        ({"DATABASE_URL": "sqlite:////tmp/db.sqlite3"}, "DATABASE_URL must point at PostgreSQL in production."),
        ({"REDIS_URL": None}, "REDIS_URL must be set in production (broker, channel layer, cache)."),
    ],
    ids=[
        "debug-on",
        "secret-key-missing",
        "secret-key-insecure-default",
        "secret-key-short",
        "hosts-missing",
        "hosts-blank",
        "database-missing",
        "database-sqlite",
        "redis-missing",
    ],
)
def test_production_settings_refuse_unsafe_values(tmp_path, overrides, message):
    result = run_python(production_env(tmp_path, **overrides), "-c", "import config.settings.production")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"django.core.exceptions.ImproperlyConfigured: {message}"
