"""Settings shared by every environment. Each setting is read here once, from the environment,
with an embedded default where one is safe; app code reads django.conf.settings only."""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_seconds(name: str, default: float) -> float:
    """A duration in seconds above zero; anything else stops the start with a message naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ImproperlyConfigured(f"{name} must be a number of seconds above 0, not {value!r}.")
    return seconds


# An insecure default that production refuses (see production.py).
INSECURE_SECRET_KEY = "django-insecure-95598-dev-only-never-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", INSECURE_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "channels",
    # Wagtail
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.table_block",
    "wagtail.contrib.simple_translation",
    "wagtail.locales",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # Identity
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    # Project
    "core",
    "notifications",
    "cms",
    "portal",
    "callcenter",
    "integrations",
    # The API's schema and bundled Swagger UI (integrations/api).
    "ninja",
    # Request, response and latency metrics served on /metrics (config/metrics.py).
    "django_prometheus",
]

MIDDLEWARE = [
    # First and last (PrometheusAfterMiddleware): the request metrics time the whole stack.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # The request id (X-Request-ID) of every log line and of the Celery tasks the request enqueues, then one access
    # line per request (config/request_id.py, config/logging.py).
    "config.request_id.RequestIdMiddleware",
    "config.logging.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A database that is down or restarting answers 503 with a retry page, never a 500 (config/db_unavailable.py).
    "config.db_unavailable.DatabaseUnavailableMiddleware",
    # /api/v1/ requests: a request id and one log row each (integrations/middleware.py).
    "integrations.middleware.ApiRequestLogMiddleware",
    # Anonymous copies of Wagtail pages, replayed before sessions, locale and CSRF run (cms/cache.py).
    "cms.cache.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The public site takes its language from the path, the portal and staff pages from the visitor's choice.
    "config.middleware.SiteLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # Staff who signed in without an authenticator set one up before anything else (portal/identity/middleware.py).
    "portal.identity.middleware.StaffTotpSetupMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL in production through DATABASE_URL; an embedded SQLite file otherwise.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
# No persistent connections: under ASGI (Daphne) each request's sync code may run on another thread, so kept
# connections pile up until PostgreSQL refuses new clients ("too many clients already" under the portal bench).
# PostgreSQL connections come from a pool per process instead (psycopg_pool through Django's "pool" option): a new
# connection costs ~3.5 ms, as much as a cached dashboard view; a request borrows one at its first query and gives
# it back when it finishes. DATABASE_POOL_MAX_SIZE bounds each process's connections (web, every Celery worker
# process and beat each have a pool: keep their sum under PostgreSQL's max_connections); a request waits up to
# DATABASE_POOL_TIMEOUT seconds for one, then fails. A health check tests a connection before lending it, so a
# PostgreSQL restart costs no failed request: the backend config.postgresql (Django's, with the pool's check of
# config/db_pool.py) looks at the socket and asks the server only when something is waiting there, instead of a
# round trip per request.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE", "20")),
        "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "10")),
    }
    # Prepared statements where the code asks for them (core/db.py cursor_prepared: the portal's per-view
    # statements, planned once per pooled connection). psycopg prepares nothing while this is None (Django's
    # default); 5 is psycopg's own. Django's queries bind on the client and are never prepared either way.
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the Celery worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# How many messages may wait for a socket, and how long. channels_redis keeps ONE Redis list per ASGI process for
# every socket that process holds (its "specific." channels) and drops a message silently once that list holds
# `capacity`: its default of 100 lost screen-pops in the busy-day benchmark while a Daphne saturated by payment
# webhooks read its list a few seconds late. A backlog is bounded by the expiry instead (a pop a minute old is of
# no use); 5,000 waiting messages of a few kB each is a few MB of Redis per process at worst.
CHANNEL_LAYER_LIMITS = {"capacity": 5000, "expiry": 60}

# Redis: Celery broker, channel layer and cache when REDIS_URL is set; embedded defaults otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Fails soft: a Redis blip makes cache reads miss instead of failing pages (config/cache.py).
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            # An unreachable Redis must cost a request (and /healthz/) under a second, not hang on connect.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], **CHANNEL_LAYER_LIMITS},
        }
    }
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }
    # Across processes without Redis (Daphne, the Celery worker, run_ami): an SQLite file apart from the database.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "config.channel_layers.SQLiteChannelLayer",
            "CONFIG": {"path": str(VAR_DIR / "channel-layer.sqlite3"), **CHANNEL_LAYER_LIMITS},
        }
    }
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")

CELERY_RESULT_BACKEND = None
# Task modules beyond each app's tasks.py (autodiscovered): the decision-support summaries' refresh.
CELERY_IMPORTS = ("core.report_tasks",)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues, so that slow work never delays urgent work: an SMS burst or a month's report must not hold up the SLA clock
# or an agent's wrap-up. Production runs a worker per group of queues (deploy/systemd/celery-*.env, Procfile); a
# single worker for everything takes -Q with all of CELERY_QUEUES_ALL (scripts/run_platform.py).
CELERY_TASK_DEFAULT_QUEUE = "default"
# Redis broker: a task taken by a worker that died (acks late) goes back to the queue after this many seconds; it
# must exceed the longest task and any countdown or ETA, or a task still running would be handed out again. (The
# SQLAlchemy transport would hand the option to create_engine, which refuses it.)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
CELERY_QUEUES_ALL = ("default", "notifications", "tickets", "payments", "reports", "callcenter")
# Every task by name (tests/deploy/test_layout.py checks that each registered task has a route here and that every
# queue has a worker); the patterns catch tasks added later in those apps.
CELERY_TASK_ROUTES = {
    "cms.publish_scheduled": {"queue": "default"},
    "core.bills_mark_overdue": {"queue": "default"},
    "core.customer_alerts_scan": {"queue": "default"},
    "core.application_drafts_purge": {"queue": "default"},
    "notifications.message_send": {"queue": "notifications"},
    "notifications.message_send_many": {"queue": "notifications"},
    "notifications.dispatch_due": {"queue": "notifications"},
    "notifications.fan_out_plan": {"queue": "notifications"},
    "notifications.fan_out_batch": {"queue": "notifications"},
    "notifications.arrears_reminders": {"queue": "notifications"},
    "notifications.arrears_reminders_batch": {"queue": "notifications"},
    # The SLA clock and what a ticket's events call for.
    "core.sla_tick": {"queue": "tickets"},
    "notifications.ticket_event_notify": {"queue": "tickets"},
    "core.stripe_reconcile": {"queue": "payments"},
    # Long work: summaries, the monthly quality pack, the business audit scan.
    "core.reports_refresh": {"queue": "reports"},
    "core.reports_rebuild": {"queue": "reports"},
    "core.quality_reports_monthly": {"queue": "reports"},
    "core.audit_scan": {"queue": "reports"},
    "callcenter.wallboard_push": {"queue": "callcenter"},
    "core.agents_wrap_up_expire": {"queue": "callcenter"},
    "notifications.*": {"queue": "notifications"},
    "callcenter.*": {"queue": "callcenter"},
    "core.*payment*": {"queue": "payments"},
    "core.*bank*": {"queue": "reports"},
    "core.*report*": {"queue": "reports"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "core.bills_mark_overdue": {"task": "core.bills_mark_overdue", "schedule": 3600.0},
    "notifications.dispatch_due": {"task": "notifications.dispatch_due", "schedule": 60.0},
    # The SLA clock: warnings, overdue marks and auto-skips of ticket steps (core.services.ticket_sla).
    "core.sla_tick": {"task": "core.sla_tick", "schedule": 60.0},
    # Wagtail pages whose go-live/expiry time has come are published/unpublished (cms.tasks.publish_scheduled).
    "cms.publish_scheduled": {"task": "cms.publish_scheduled", "schedule": 60.0},
    "notifications.arrears_reminders": {
        "task": "notifications.arrears_reminders",
        "schedule": crontab(hour=9, minute=0),
    },
    # Tier-crossing and smart-prepaid low-balance alerts of bound accounts, after the night's meter readings.
    "core.customer_alerts_scan": {"task": "core.customer_alerts_scan", "schedule": crontab(hour=9, minute=30)},
    # Documents uploaded to portal applications that were never submitted.
    "core.application_drafts_purge": {"task": "core.application_drafts_purge", "schedule": crontab(hour=3, minute=0)},
    # Yesterday's Stripe charges against online payments and the ledger.
    "core.stripe_reconcile": {"task": "core.stripe_reconcile", "schedule": crontab(hour=2, minute=30)},
    # Agents whose after-call work outlived CALLCENTER_WRAP_UP_SECONDS go back to ready.
    "core.agents_wrap_up_expire": {"task": "core.agents_wrap_up_expire", "schedule": 5.0},
    # Business audit (稽查): zero consumption, jumps, corrected bills, reversals, waivers -> the audit work list,
    # after the night's readings and the customer alerts.
    "core.audit_scan": {"task": "core.audit_scan", "schedule": crontab(hour=10, minute=0)},
    # Decision-support summaries: what changed since the last refresh every 15 minutes, everything nightly.
    "core.reports_refresh": {"task": "core.reports_refresh", "schedule": 900.0},
    "core.reports_rebuild": {"task": "core.reports_rebuild", "schedule": crontab(hour=1, minute=30)},
    # Last month's quality pack (every quality report in one workbook), offered on /staff/reports/quality/.
    "core.quality_reports_monthly": {
        "task": "core.quality_reports_monthly",
        "schedule": crontab(day_of_month=1, hour=6, minute=0),
    },
}

# Auditors' flag: staff who opened more distinct customers' personal data than this in one day.
PERSONAL_DATA_AUDIT_DAILY_CUSTOMERS = int(os.environ.get("PERSONAL_DATA_AUDIT_DAILY_CUSTOMERS", "50"))

# Electronic work tickets: the warning threshold of operators who have not set their own
# (warn 2 h before a step falls due or when 80% of its time limit has elapsed, whichever comes first).
TICKET_WARNING_DEFAULT_MINUTES_BEFORE_DUE = 120
TICKET_WARNING_DEFAULT_PERCENT_ELAPSED = 80

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's and allauth's backends, reading a signed-in request's user row from the cache for
# AUTH_USER_CACHE_SECONDS instead of the database, forgotten whenever the user is saved (config/auth.py). Without
# Redis the cache is the database, so it is off.
AUTHENTICATION_BACKENDS = [
    "config.auth.CachedModelBackend",
    "config.auth.CachedAuthenticationBackend",
]
AUTH_USER_CACHE_SECONDS = 60 if REDIS_URL else 0
LOGIN_URL = "/accounts/login/"
# Customers land on their portal; staff are sent to their own pages by the adapter (portal/identity/adapter.py).
LOGIN_REDIRECT_URL = "/portal/"
STAFF_LOGIN_REDIRECT_URL = "/staff/queue/"
SITE_ID = 1

# Identity (django-allauth): a customer signs up and in with a mainland mobile number and an SMS code (sent through
# notifications as LOGIN_CODE), or with an email address and a password; staff also need TOTP (allauth.mfa);
# every signed-in browser is listed and can be signed out (allauth.usersessions).
ACCOUNT_ADAPTER = "portal.identity.adapter.PortalAccountAdapter"
ACCOUNT_FORMS = {"signup": "portal.identity.forms.PortalSignupForm"}
ACCOUNT_LOGIN_METHODS = {"phone", "email", "username"}
# Every field optional here; the signup form (PortalSignupForm.clean) requires a mobile number, or an email address
# with a password. allauth's check wants one login method required field by field, which cannot say "either".
ACCOUNT_SIGNUP_FIELDS = ["phone", "email", "password1", "password2"]
SILENCED_SYSTEM_CHECKS = ["account.W001"]
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 5 * 60
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS = 3
ACCOUNT_PHONE_VERIFICATION_TIMEOUT = 5 * 60
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND = True
# SMS codes are six digits, typed on a phone keypad.
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_LOGIN_BY_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
# Codes by SMS cost money and can be abused: per number and per IP (allauth's rate-limit syntax).
ACCOUNT_RATE_LIMITS = {
    "request_login_code": "10/m/ip,1/m/key,5/h/key",
    "verify_phone": "1/m/key,5/h/key,10/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
}
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "95598"
MFA_TOTP_TOLERANCE = 1
USERSESSIONS_TRACK_ACTIVITY = False
# With Redis, a signed-in request reads its session from the cache, written through to the database, instead of a
# session query (config/sessions.py: the cached copy lasts a minute, so a revocation missed by a Redis blip holds
# at most that long). Without Redis the database cache would only add a second table to read.
SESSION_ENGINE = "config.sessions" if REDIS_URL else "django.contrib.sessions.backends.db"

# Language: Simplified Chinese first, English second; display time in Asia/Shanghai.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
WAGTAIL_I18N_ENABLED = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Customers' and staff's documents (ticket attachments): outside the web root, served only through views that check
# who asks (core.storage.private_storage).
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", VAR_DIR / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "private": {"BACKEND": "core.storage.PrivateStorage"},
}

WAGTAIL_SITE_NAME = "95598"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# Planned-outage notices (停电公告): a planned outage is announced at least this many days before it starts, an
# emergency/temporary maintenance outage at least this many hours before; a fault needs no notice.
OUTAGE_PLANNED_NOTICE_DAYS = int(os.environ.get("OUTAGE_PLANNED_NOTICE_DAYS", "7"))
OUTAGE_TEMPORARY_NOTICE_HOURS = int(os.environ.get("OUTAGE_TEMPORARY_NOTICE_HOURS", "24"))
# Anonymous visitors' copies of public pages live this long at most (publishing drops them at once); short because
# the home page's "outages in the next 7 days" moves with the clock.
CMS_PAGE_CACHE_SECONDS = int(os.environ.get("CMS_PAGE_CACHE_SECONDS", "300"))
# Threads per ASGI process for the synchronous work of HTTP requests, one request each at a time; more requests queue
# in the process (config/asgi_handler.py). Two suit a process per core; on more cores run more processes.
HTTP_THREADS = int(os.environ.get("HTTP_THREADS", "2"))
# More are started, up to this many, while threads are held up by one request for a quarter of a second or more
# (something slow outside, such as the payment provider not answering); they stop again once nobody waits.
HTTP_THREADS_MOST = int(os.environ.get("HTTP_THREADS_MOST", "16"))

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "95598@localhost")

# External services; empty means "not configured" and the embedded fallback is used.
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# Real Stripe by default; the tests and `make run` point both at localstripe on loopback.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")
# How long a call to Stripe waits for a connection and for the answer; a call failed by the network is tried twice
# more, so a customer on the pay page hears "try again later" within about half a minute, not the library's 80 s.
STRIPE_CONNECT_TIMEOUT_SECONDS = env_seconds("STRIPE_CONNECT_TIMEOUT_SECONDS", 5.0)
STRIPE_READ_TIMEOUT_SECONDS = env_seconds("STRIPE_READ_TIMEOUT_SECONDS", 10.0)
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "")
AMI_HOST = os.environ.get("AMI_HOST", "")
AMI_PORT = int(os.environ.get("AMI_PORT", "5038"))
AMI_USERNAME = os.environ.get("AMI_USERNAME", "")
AMI_SECRET = os.environ.get("AMI_SECRET", "")
# The run_ami worker: keep-alive Ping interval, reconnect backoff (doubling from MIN up to MAX seconds), and how long
# it waits for an action's response before treating the connection as dead.
AMI_PING_SECONDS = float(os.environ.get("AMI_PING_SECONDS", "20"))
AMI_RECONNECT_MIN_SECONDS = float(os.environ.get("AMI_RECONNECT_MIN_SECONDS", "1"))
AMI_RECONNECT_MAX_SECONDS = float(os.environ.get("AMI_RECONNECT_MAX_SECONDS", "60"))
AMI_ACTION_TIMEOUT_SECONDS = float(os.environ.get("AMI_ACTION_TIMEOUT_SECONDS", "10"))

# Call centre: the agents' queue (as named in the PBX), the service-level threshold (answered within N seconds),
# where the IVR's generated prompts live (played by Asterisk as sound files, see callcenter/asterisk/README.md),
# and the public base URL Twilio signs its voice webhooks with (empty: the request's own URL, right without a proxy).
CALLCENTER_QUEUE = os.environ.get("CALLCENTER_QUEUE", "hotline")
CALLCENTER_SERVICE_LEVEL_SECONDS = int(os.environ.get("CALLCENTER_SERVICE_LEVEL_SECONDS", "20"))
CALLCENTER_PROMPTS_DIR = os.environ.get("CALLCENTER_PROMPTS_DIR", str(BASE_DIR / "callcenter" / "asterisk" / "sounds"))
CALLCENTER_TWILIO_PUBLIC_BASE_URL = os.environ.get("CALLCENTER_TWILIO_PUBLIC_BASE_URL", "")
# After a call an agent stays in after-call work this long before going back to ready by themselves.
CALLCENTER_WRAP_UP_SECONDS = int(os.environ.get("CALLCENTER_WRAP_UP_SECONDS", "30"))
# The validity the IVR's payment-link SMS states.
CALLCENTER_PAYMENT_LINK_HOURS = int(os.environ.get("CALLCENTER_PAYMENT_LINK_HOURS", "24"))
# The dialplan context the console's click-to-call (AMI Originate) dials the customer's number in.
CALLCENTER_CALLBACK_CONTEXT = os.environ.get("CALLCENTER_CALLBACK_CONTEXT", "callback-out")

# Billing: how many accounts one billing-run batch handles in one transaction.
BILLING_RUN_BATCH_SIZE = int(os.environ.get("BILLING_RUN_BATCH_SIZE", "3000"))

# Notifications: quiet hours (local hours) for non-urgent SMS, per-phone SMS rate limit, retry backoff.
NOTIFICATIONS_QUIET_HOURS_START = int(os.environ.get("NOTIFICATIONS_QUIET_HOURS_START", "22"))
NOTIFICATIONS_QUIET_HOURS_END = int(os.environ.get("NOTIFICATIONS_QUIET_HOURS_END", "8"))
NOTIFICATIONS_SMS_PER_PHONE_PER_HOUR = int(os.environ.get("NOTIFICATIONS_SMS_PER_PHONE_PER_HOUR", "5"))
NOTIFICATIONS_RETRY_BASE_SECONDS = int(os.environ.get("NOTIFICATIONS_RETRY_BASE_SECONDS", "30"))
NOTIFICATIONS_REDISPATCH_AFTER_SECONDS = 300
NOTIFICATIONS_SENDING_LEASE_SECONDS = 300
# SMS and email calls a worker makes at once while sending a chunk (providers answer in 100-300 ms).
NOTIFICATIONS_SEND_CONCURRENCY = int(os.environ.get("NOTIFICATIONS_SEND_CONCURRENCY", "8"))
NOTIFICATIONS_TWILIO_TIMEOUT_SECONDS = 10
NOTIFICATIONS_SMS_COUNTRY_CODE = "86"
# Arrears reminders (催费): days before and after the due date an unpaid bill is reminded (sent daily at 09:00).
NOTIFICATIONS_ARREARS_REMINDER_DAYS_BEFORE = [
    int(days) for days in env_list("NOTIFICATIONS_ARREARS_REMINDER_DAYS_BEFORE", ["3"])
]
NOTIFICATIONS_ARREARS_REMINDER_DAYS_AFTER = [
    int(days) for days in env_list("NOTIFICATIONS_ARREARS_REMINDER_DAYS_AFTER", ["1", "7"])
]
# Public base URL Twilio calls back (delivery receipts); empty = no status callback requested.
NOTIFICATIONS_PUBLIC_BASE_URL = os.environ.get("NOTIFICATIONS_PUBLIC_BASE_URL", "")

# Logs go to stdout (systemd's journal, honcho): LOG_FORMAT json (one object per line, for the log shipper; the
# production default) or plain; each line carries the request id and, in a Celery task, the task's id and name.
# LOG_ACCESS=1 adds one line per request (method, path, status, duration_ms; on by default in production only).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL, access_log=env_bool("LOG_ACCESS", False))

# /metrics (config/metrics.py): with METRICS_TOKEN set, scrapers send `Authorization: Bearer <token>`; empty, only
# this host (127.0.0.1, ::1) may read it. PROMETHEUS_MULTIPROC_DIR, a directory shared by the ASGI processes of one
# host and emptied before they start, makes every process's request figures add up in each scrape (prometheus_client
# reads the same variable).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# The domain figures on /metrics are computed at most this often, shared through the cache by every process
# (0: at every scrape); the payments total reads the whole payments table.
METRICS_DOMAIN_FIGURES_SECONDS = 30
