"""Publishing an outage notice page announces the outage in core; unpublishing or deleting it withdraws it.

Every way a page goes live sends Wagtail's page_published (the editor's publish, a moderation approval, the
scheduled go-live, code calling `revision.publish()`), so announcing hangs off that signal. The source key
"cms:<translation_key>" makes every language version of a notice the same outage.

- In the editor, OutageNoticePageForm refuses a notice that breaks the notice rules before it is published (or
  submitted for moderation), with the translated error on the field. Saving a draft is not checked.
- A notice that still reaches publishing while breaking them (approved, or going live on schedule, after the
  deadline passed) is unpublished again in the same transaction and the refusal logged in the page's history.
  An outage already announced by an earlier, valid version of that notice stays as announced: customers were
  told of it; withdrawing it is the editor's explicit unpublish.
- A translation (not the default language) only links to the outage once it exists: its times and picks are a
  copy and its wording is not what the IVR and the agents read. A notice whose outage is restored is history:
  republishing it (e.g. to add a note) changes nothing in core.
- Unpublishing or deleting the last live version of a notice cancels its outage, unless the outage is over.
"""
from __future__ import annotations

import logging
from contextvars import ContextVar

from django.db.models.signals import post_delete
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.log_actions import log
from wagtail.models import Locale
from wagtail.signals import page_published, page_unpublished

from core.errors import OutageError
from core.models import Outage, OutageState
from core.services.outages import outage_announce, outage_announce_check, outage_cancel

logger = logging.getLogger(__name__)

REFUSED_LOG_ACTION = "cms.outage_notice_refused"
WITHDRAWN_REASON = _("停电公告已撤回")

# Pages being unpublished because their outage was refused: that unpublish must not cancel the announced outage.
_refusing: ContextVar[frozenset[int]] = ContextVar("outage_notice_refusing", default=frozenset())


def outage_source_key(page) -> str:
    return f"cms:{page.translation_key}"


def _outage_of(page) -> Outage | None:
    return Outage.objects.filter(source_key=outage_source_key(page)).first()


def _links_only(page, outage: Outage | None) -> bool:
    """Whether publishing this page leaves core as it is (see the module docstring)."""
    if outage is None:
        return False
    if outage.state == OutageState.RESTORED:
        return True
    return outage.state == OutageState.ANNOUNCED and page.locale_id != Locale.get_default().pk


def _announcement(page, picks: dict[str, list[int]]) -> dict:
    return dict(
        branch=page.branch, kind=page.kind, title=page.title, reason=page.reason, streets=page.streets,
        starts_at=page.starts_at, ends_at=page.ends_at, source_key=outage_source_key(page), **picks,
    )


def _link(page, outage: Outage) -> None:
    """Point every language version of the notice at its outage (a queryset update: no new revision)."""
    type(page).objects.filter(translation_key=page.translation_key).update(outage=outage)
    page.outage = outage


def outage_notice_publish(*, page, user=None) -> Outage:
    """Announce (or revise) the outage of a notice that has just gone live; raises OutageError on refusal."""
    outage = _outage_of(page)
    if not _links_only(page, outage):
        outage = outage_announce(**_announcement(page, page.outage_picks()), user=user)
    _link(page, outage)
    return outage


def _refuse(page, error: OutageError) -> None:
    logger.warning("outage notice %s refused at publishing: %s", page.pk, error)
    log(instance=page, action=REFUSED_LOG_ACTION, data={"message": str(error), "field": error.field or ""})
    existing = _outage_of(page)
    if existing is not None:
        _link(page, existing)
    token = _refusing.set(_refusing.get() | {page.pk})
    try:
        page.unpublish(log_action=True)
    finally:
        _refusing.reset(token)


def _on_published(sender, instance, revision=None, **kwargs) -> None:
    user = getattr(revision, "user", None)
    try:
        outage_notice_publish(page=instance, user=user)
    except OutageError as error:
        _refuse(instance, error)


def _withdraw(page) -> None:
    """Cancel the notice's outage when no version of the notice is live any more and the outage is not over."""
    outage = _outage_of(page)
    if outage is None or outage.state != OutageState.ANNOUNCED or outage.ends_at <= timezone.now():
        return
    if type(page).objects.live().filter(translation_key=page.translation_key).exclude(pk=page.pk).exists():
        return
    try:
        outage_cancel(outage=outage, reason=str(WITHDRAWN_REASON))
    except OutageError as error:
        logger.warning("outage %s of notice %s not cancelled: %s", outage.pk, page.pk, error)


def _on_unpublished(sender, instance, **kwargs) -> None:
    if instance.pk in _refusing.get():
        return
    _withdraw(instance)


def _on_deleted(sender, instance, **kwargs) -> None:
    _withdraw(instance)


class OutageNoticePageForm(WagtailAdminPageForm):
    """The notice editor: publishing (or submitting) a notice core would refuse shows core's error on the field."""

    def is_valid(self) -> bool:
        if not super().is_valid():
            return False
        if self.is_deferred_validation:
            # Saving a draft: the rules apply when it is published or submitted for moderation.
            return True
        page = self.instance
        if _links_only(page, _outage_of(page)):
            return True
        try:
            outage_announce_check(**_announcement(page, self._picks()))
        except OutageError as error:
            self.add_error(error.field if error.field in self.fields else None, str(error))
            return False
        return True

    def _picks(self) -> dict[str, list[int]]:
        picks = {}
        for relation, field, key in (
            ("substations", "substation", "substation_ids"),
            ("feeders", "feeder", "feeder_ids"),
            ("transformer_areas", "transformer_area", "transformer_area_ids"),
        ):
            formset = self.formsets.get(relation)
            chosen = []
            for form in formset.forms if formset is not None else ():
                data = getattr(form, "cleaned_data", None) or {}
                if data.get("DELETE") or data.get(field) is None:
                    continue
                chosen.append(data[field].pk)
            picks[key] = chosen
        return picks


def connect_signals() -> None:
    """Subscribe to Wagtail's publish signals and to deletions of notice pages."""
    from cms.models import OutageNoticePage

    page_published.connect(_on_published, sender=OutageNoticePage, dispatch_uid="cms.outage_publishing.published")
    page_unpublished.connect(
        _on_unpublished, sender=OutageNoticePage, dispatch_uid="cms.outage_publishing.unpublished"
    )
    post_delete.connect(_on_deleted, sender=OutageNoticePage, dispatch_uid="cms.outage_publishing.deleted")
