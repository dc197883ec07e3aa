"""What a page shows of one account, built once and kept in the cache until something it is drawn from changes:
the dashboard's account panel and the guest bill lookup's answer (both HTML).

The key is the account, the language, the date it is drawn for (late fees accrue and the tier forecast moves
with the day) and a digest of account_data_version: a text that changes with every payment, bill, correction,
reading, late fee, account change and new tariff version, read in the same query as the bindings (dashboard) or the
account (guest lookup). A repeat view costs no query of its own and one cache round trip (get_many of the entry and
the configuration generation). Tariff prices and collection policies are
configuration shared by many accounts, so a change to any of them replaces the generation instead, making every
kept panel stale at once. What differs per user (the account switcher with the user's own labels) is drawn
around the panel on every request, never kept in it; the guest lookup checks its limits on every request.

The cache fails soft (config/cache.py): when it is unreachable every view is a miss, rendered from the database.
"""
from __future__ import annotations

import datetime
import hashlib
import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from core.models import Account
from core.selectors.binding import GuestBillSummary, guest_bill_summary
from core.selectors.portal_bills import account_dashboard, account_data_version

logger = logging.getLogger(__name__)
T = TypeVar("T")

GENERATION_KEY = "portal:dashboard:generation"
PANEL_TEMPLATE = "portal/dashboard/includes/account_panel.html"
# Part of the panel's key: a release that changes what the panel shows raises it, so panels kept by the release
# before are not served in the new one (2: the data-export links moved into the panel; 3: the last six bills and
# payments listed, not 24).
PANEL_LAYOUT = 3
LOOKUP_RESULT_TEMPLATE = "portal/guest/includes/lookup_result.html"
# How long an unchanged entry is kept: the version and the generation decide freshness; this lets unread ones go.
ENTRY_SECONDS = 3600


def _entry_key(*, name: str, account_id: int, version: tuple, language: str, as_of: datetime.date) -> str:
    digest = hashlib.sha256("|".join(version).encode()).hexdigest()[:32]
    return f"portal:dashboard:{name}:{account_id}:{language}:{as_of.isoformat()}:{digest}"


def account_view_cached(
    *, name: str, account_id: int, as_of: datetime.date, build: Callable[[], T], version: str | None = None,
) -> T:
    """What `build` returns for this account on this day in the active language: from the cache when nothing it
    is drawn from has changed, else built and kept. `build` must read only the account's own data (what
    account_data_version covers) and configuration, never anything about the viewer.

    `version` is the account's data version when the caller read it with the account (bindings_active_versioned,
    bill_lookup_verify: no query of its own), else it is read here. Either way it is read before the data, so a
    kept entry is never older than the version in its key."""
    version = (version,) if version is not None else account_data_version(account_id=account_id)
    if version is None:
        return build()
    key = _entry_key(name=name, account_id=account_id, version=version, language=translation.get_language() or "",
                     as_of=as_of)
    found = cache.get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY)
    entry = found.get(key)
    if generation is not None and entry is not None and entry[0] == generation:
        return entry[1]
    if generation is None:
        # First use, or the generation was evicted: start a new one, so nothing kept before counts.
        generation = _generation_start()
    value = build()
    if generation is not None:
        cache.set(key, (generation, value), ENTRY_SECONDS)
    return value


def dashboard_panel(*, account_id: int, as_of: datetime.date, version: str | None = None) -> SafeString:
    """The account panel's HTML (the same for everyone who may see the account). The account itself is read only
    to build it: a repeat view needs its id and version alone."""
    def build() -> str:
        account = Account.objects.select_related("branch", "tariff").get(pk=account_id)
        return str(render_to_string(PANEL_TEMPLATE, {"dashboard": account_dashboard(account=account, as_of=as_of)}))

    html = account_view_cached(name=f"panel{PANEL_LAYOUT}", account_id=account_id, as_of=as_of, build=build,
                               version=version)
    return mark_safe(html)


def bill_lookup_answer(
    *, account_id: int, as_of: datetime.date, version: str | None = None,
) -> tuple[GuestBillSummary, SafeString]:
    """The guest lookup's answer: the account's masked summary and its HTML, kept together (the same for every guest
    who names the account rightly; the lookup's checks and limits run on every request before it is asked for).
    The account itself is read only to build it."""
    def build() -> tuple[GuestBillSummary, str]:
        summary = guest_bill_summary(account=Account.objects.get(pk=account_id), as_of=as_of)
        return summary, str(render_to_string(LOOKUP_RESULT_TEMPLATE, {"summary": summary}))

    summary, html = account_view_cached(name="guest-answer", account_id=account_id, as_of=as_of, build=build,
                                        version=version)
    return summary, mark_safe(html)


def _generation_start() -> str | None:
    """A new generation if none is set, else the one another process set first (None if the cache is down)."""
    generation = uuid.uuid4().hex
    if cache.add(GENERATION_KEY, generation, None):
        return generation
    return cache.get(GENERATION_KEY)


def _generation_replace() -> None:
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    except Exception:
        # A configuration change must not fail because the cache is down; panels kept before the outage go
        # after ENTRY_SECONDS.
        logger.warning("dashboard cache unreachable: generation not replaced", exc_info=True)


def dashboard_generation_bump(**kwargs) -> None:
    """Make every kept panel stale: now, and again after the current transaction commits (a view that read the
    old prices before the commit cannot have kept them under the new generation)."""
    _generation_replace()
    transaction.on_commit(_generation_replace)


def connect_signals() -> None:
    """Tariff prices and collection policies (late-fee rates) are drawn on every panel: a change replaces the
    generation. Called from the portal app's ready()."""
    from core.models import CollectionPolicy, Tariff, TariffPeriodPrice, TariffTier, TariffVersion, TimeBand

    for model in (Tariff, TariffVersion, TariffTier, TariffPeriodPrice, TimeBand, CollectionPolicy):
        name = model.__name__
        post_save.connect(dashboard_generation_bump, sender=model, dispatch_uid=f"portal.dashboard.saved.{name}")
        post_delete.connect(dashboard_generation_bump, sender=model, dispatch_uid=f"portal.dashboard.deleted.{name}")
