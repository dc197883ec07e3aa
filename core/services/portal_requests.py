"""What customers ask for on the portal, turned into tickets: applications (the accept step's fields filled in by
the customer, with documents), feedback (complaints, reports, opinions, suggestions, praise) and fault reports.

Fault reports are joined rather than multiplied: a report from an account whose transformer area is inside a known
outage now is recorded on that outage's one ticket (Ticket.outage; no crew is sent for what the outage explains),
and repeated reports from one transformer area join its repair ticket until the crew has restored supply (up to
REPORT_JOIN_MAX after it opened); every report is a TicketReporter row, so everyone who reported is told when power
is back (portal.requests.receivers, once per reporter through TicketReporter.told_restored_at).
"""
from __future__ import annotations

import datetime
import math
import os
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import PortalRequestInvalid, TicketPermissionDenied, TicketValidationError, TrackingLocked
from core.models import (
    Account,
    Branch,
    BusinessType,
    Channel,
    ComplaintClass,
    Outage,
    Ticket,
    TicketEvent,
    TicketReporter,
    TicketStep,
    TrackingAttempt,
    TransformerArea,
)
from core.models.tickets import TicketAttachment
from core.selectors.outages import outages_affecting_account
from core.selectors.portal_tickets import (
    FEEDBACK_TYPES,
    account_transformer_area_id,
    application_checks,
    application_definition,
    application_fields,
    ticket_owned_by,
)
from core.services.tickets import ticket_attachment_check, ticket_event_record, ticket_open, ticket_rate
from core.storage import private_storage
from core.workflows.checks import CheckContext, checks_run
from core.workflows.fields import step_data_clean
from core.workflows.materials import OTHER, application_material, materials_missing_now

# A transformer area's repair ticket collects the area's new reports until its crew restores supply (one fault, one
# crew), but never after this long from its opening (the fault-repair commitment): a ticket still open by then has
# gone wrong somewhere, and a new report sends a crew again.
REPORT_JOIN_MAX = datetime.timedelta(hours=24)
# The step whose completion means the crew has restored supply; reports after it are a new fault.
_RESTORE_STEP_CODE = "restore"
# Documents uploaded in the wizard wait here (private storage) until the application is submitted.
DRAFT_FOLDER = "portal-drafts"
MAX_DOCUMENTS = 10
DESCRIPTION_MAX_LENGTH = 2000
_SUMMARY_LENGTH = Ticket._meta.get_field("summary").max_length
_CONTACT_FIELDS = [
    {"name": "contact_name", "type": "text", "required": True, "max_length": 60},
    {"name": "contact_phone", "type": "phone", "required": True},
]
_OPEN_STATES = (Ticket.State.OPEN, Ticket.State.SUSPENDED)


def _now(at: datetime.datetime | None) -> datetime.datetime:
    return at if at is not None else timezone.now()


def _clean_or_raise(*, fields: list[dict], raw: dict) -> dict:
    cleaned, errors = step_data_clean(fields=fields, raw=raw)
    if errors:
        raise TicketValidationError(errors=errors)
    return cleaned


def _summary(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _SUMMARY_LENGTH else text[: _SUMMARY_LENGTH - 1] + "…"


# --- applications ---------------------------------------------------------------------------------------------


def application_answers_check(
    *, business_type: str, account: Account | None, answers: dict, at: datetime.datetime | None = None
) -> dict:
    """Clean the customer's answers against the accept step's fields and run its checks (a capacity increase
    above the current capacity, no arrears before a name change...) on a ticket not yet saved; returns the cleaned
    answers or raises TicketValidationError with every problem per field."""
    definition = application_definition(business_type=business_type)
    if definition is None:
        raise PortalRequestInvalid(_("该业务暂不能在网上办理"), field="business_type")
    if definition.requires_account and account is None:
        raise PortalRequestInvalid(_("该业务须选择已绑定的户号"), field="account")
    cleaned = _clean_or_raise(fields=application_fields(definition=definition), raw=answers)
    names = application_checks(definition=definition)
    if names:
        draft = Ticket(
            business_type=business_type, definition=definition, account=account,
            customer=account.customer if account is not None else None, opened_at=_now(at), data=cleaned,
        )
        step = definition.steps.order_by("order").first()
        context = CheckContext(ticket=draft, step_definition=step, data=cleaned, now=_now(at))
        errors = checks_run(names=names, ctx=context)
        if errors:
            raise TicketValidationError(errors=errors)
    return cleaned


@dataclass(frozen=True)
class DraftDocument:
    """A document uploaded in the wizard, waiting in private storage for the application to be submitted."""

    path: str
    name: str
    content_type: str
    size: int
    # Which of the business type's papers it is (core.workflows.materials).
    material: str = OTHER.code

    def as_dict(self) -> dict:
        return {"path": self.path, "name": self.name, "content_type": self.content_type, "size": self.size,
                "material": self.material}

    @classmethod
    def from_dict(cls, value: dict) -> DraftDocument:
        return cls(path=str(value["path"]), name=str(value["name"]), content_type=str(value["content_type"]),
                   size=int(value["size"]), material=str(value.get("material") or OTHER.code))


def application_document_stash(*, uploaded_file, business_type: str, material: str, held: int = 0) -> DraftDocument:
    """Check an uploaded document (which of the type's papers it is; type by extension and first bytes, size:
    ticket_attachment_check) and keep it in private storage under a random name until the application is
    submitted. A refused file is never stored."""
    if held >= MAX_DOCUMENTS:
        raise PortalRequestInvalid(
            _("最多上传%(count)s份材料") % {"count": MAX_DOCUMENTS}, field="file"
        )
    if application_material(business_type=business_type, code=material) is None:
        raise PortalRequestInvalid(_("请选择上传的是哪一项材料"), field="material")
    name, extension, content_type = ticket_attachment_check(uploaded_file=uploaded_file)
    path = private_storage().save(f"{DRAFT_FOLDER}/{uuid.uuid4().hex}{extension}", uploaded_file)
    return DraftDocument(path=path, name=name, content_type=content_type, size=uploaded_file.size, material=material)


def application_document_discard(*, document: DraftDocument) -> None:
    """Delete a wizard upload the customer removed (only files in the drafts folder are ever touched here)."""
    if document.path.startswith(f"{DRAFT_FOLDER}/") and ".." not in document.path:
        private_storage().delete(document.path)


def application_drafts_purge(*, older_than: datetime.timedelta = datetime.timedelta(days=2)) -> int:
    """Delete wizard uploads never submitted (abandoned wizards); returns how many files were removed."""
    storage = private_storage()
    try:
        _folders, files = storage.listdir(DRAFT_FOLDER)
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - older_than
    removed = 0
    for name in files:
        path = f"{DRAFT_FOLDER}/{name}"
        if storage.get_modified_time(path) < cutoff:
            storage.delete(path)
            removed += 1
    return removed


def _in_house_language(text) -> str:
    """Text staff file under, in the site's own language whatever the customer's page was in."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def _attach_drafts(*, ticket: Ticket, user, documents: list[DraftDocument], at: datetime.datetime) -> None:
    """File the wizard's documents with the new ticket (moved out of the drafts folder), each noted in the staff
    event log."""
    storage = private_storage()
    for document in documents:
        if not document.path.startswith(f"{DRAFT_FOLDER}/") or not storage.exists(document.path):
            raise PortalRequestInvalid(_("上传的材料已失效，请重新上传"), field="documents")
        extension = os.path.splitext(document.path)[1]
        material = application_material(business_type=ticket.business_type, code=document.material) or OTHER
        attachment = TicketAttachment(
            ticket=ticket, step=ticket.current_step, name=f"{_in_house_language(material.label)}-{document.name}"[:200],
            content_type=document.content_type, size=document.size, uploaded_by=user, uploaded_at=at,
        )
        with storage.open(document.path, "rb") as handle:
            attachment.file.save(f"{uuid.uuid4().hex}{extension}", File(handle), save=False)
        attachment.save()
        ticket_event_record(
            ticket=ticket, kind=TicketEvent.Kind.NOTE, at=at, step=ticket.current_step, user=user,
            after={"attachment": document.name, "attachment_id": attachment.pk, "size": document.size},
            note=gettext("客户上传申请材料（%(material)s）：%(name)s") % {"material": material.label,
                                                                       "name": document.name},
        )
    transaction.on_commit(lambda: [storage.delete(d.path) for d in documents], robust=True)


def application_contact_check(*, contact: dict) -> dict:
    """The applicant's name and phone (a mainland mobile or a landline with area code), cleaned."""
    return _clean_or_raise(fields=_CONTACT_FIELDS, raw=contact)


def application_submit(
    *, user, business_type: str, account: Account | None, branch: Branch | None, answers: dict,
    contact: dict, description: str, documents: list[DraftDocument], idempotency_key: str,
    at: datetime.datetime | None = None,
) -> Ticket:
    """Open the application's ticket (portal channel, opened by the user) with the cleaned answers and documents.
    The same idempotency key returns the first ticket and files nothing twice.

    Locks the day's ticket sequence row (ticket_open) until the transaction commits.
    """
    at = _now(at)
    existing = Ticket.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
    if existing is not None:
        return existing
    cleaned = application_answers_check(business_type=business_type, account=account, answers=answers, at=at)
    people = application_contact_check(contact=contact)
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise TicketValidationError(errors={"description": [gettext("不能超过2000个字符")]}, field="description")
    if account is None and branch is None:
        raise PortalRequestInvalid(_("请选择受理的县公司"), field="branch")
    missing = materials_missing_now(business_type=business_type, codes_uploaded={d.material for d in documents})
    if missing:
        raise PortalRequestInvalid(
            _("提交前请上传：%(materials)s") % {"materials": "、".join(str(m.label) for m in missing)},
            field="documents",
        )
    label = BusinessType(business_type).label
    address = cleaned.get("supply_address") or (account.address if account is not None else "")
    with transaction.atomic():
        ticket = ticket_open(
            business_type=business_type, channel=Channel.PORTAL,
            summary=_summary(gettext("网上申请：%(business)s") % {"business": label}),
            branch=branch, account=account, description=description, contact_name=people["contact_name"],
            contact_phone=people["contact_phone"], address=address, data=cleaned, opened_by=user,
            idempotency_key=idempotency_key, at=at,
        )
        _attach_drafts(ticket=ticket, user=user, documents=documents, at=at)
    return ticket


# --- feedback ---------------------------------------------------------------------------------------------------


def feedback_submit(
    *, user, business_type: str, summary: str, description: str, account: Account | None = None,
    branch: Branch | None = None, complaint_class: str = "", anonymous: bool = False, contact_name: str = "",
    contact_phone: str = "", idempotency_key: str, at: datetime.datetime | None = None,
) -> Ticket:
    """A complaint (with its class), report (may be anonymous: no account, no contact kept), opinion, suggestion
    or praise, as a ticket on the portal channel.

    Locks the day's ticket sequence row (ticket_open) until the transaction commits.
    """
    if business_type not in FEEDBACK_TYPES:
        raise PortalRequestInvalid(_("请选择诉求类型"), field="business_type")
    if business_type == BusinessType.COMPLAINT and complaint_class not in ComplaintClass.values:
        raise PortalRequestInvalid(_("请选择投诉分类"), field="complaint_class")
    if business_type != BusinessType.COMPLAINT:
        complaint_class = ""
    if anonymous and business_type != BusinessType.REPORT:
        raise PortalRequestInvalid(_("只有举报可以匿名"), field="anonymous")
    fields = [
        {"name": "summary", "type": "text", "required": True, "max_length": 100},
        {"name": "description", "type": "textarea", "required": True, "max_length": DESCRIPTION_MAX_LENGTH},
    ]
    if not anonymous:
        fields += _CONTACT_FIELDS
    cleaned = _clean_or_raise(fields=fields, raw={
        "summary": summary, "description": description, "contact_name": contact_name, "contact_phone": contact_phone,
    })
    if anonymous:
        # Nothing that names the reporter is kept with an anonymous report.
        account, opened_by = None, None
    else:
        opened_by = user
    if account is None and branch is None:
        raise PortalRequestInvalid(_("请选择受理的县公司"), field="branch")
    return ticket_open(
        business_type=business_type, channel=Channel.PORTAL, summary=cleaned["summary"], branch=branch,
        account=account, description=cleaned["description"], contact_name=cleaned.get("contact_name", ""),
        contact_phone=cleaned.get("contact_phone", ""), complaint_class=complaint_class, anonymous=anonymous,
        opened_by=opened_by, idempotency_key=idempotency_key, at=at,
    )


# --- fault reports ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultReportOutcome:
    ticket: Ticket
    reporter: TicketReporter
    outage: Outage | None  # the known outage that explains the fault, if any
    joined: bool  # True when the report joined a ticket someone had already opened


def _outage_now(*, account: Account, at: datetime.datetime) -> Outage | None:
    for outage in outages_affecting_account(account=account, at=at):
        if outage.starts_at <= at:
            return outage
    return None


def _reporter_add(*, ticket: Ticket, user, account: Account | None, phone: str, description: str,
                  at: datetime.datetime, joined: bool, channel: str = Channel.PORTAL) -> TicketReporter:
    # A caller has no login: the same phone is the same person.
    same = {"user": user} if user is not None else {"user__isnull": True, "phone": phone}
    reporter = TicketReporter.objects.filter(ticket=ticket, **same).first()
    if reporter is not None:
        # The same person reporting the same fault again is one reporter, told once.
        return reporter
    reporter = TicketReporter.objects.create(
        ticket=ticket, customer=account.customer if account is not None else None, account=account, user=user,
        phone=phone, channel=channel, reported_at=at,
    )
    if joined:
        ticket_event_record(
            ticket=ticket, kind=TicketEvent.Kind.NOTE, at=at, user=None,
            after={"reporter": reporter.pk, "account": account.number if account is not None else ""},
            note=gettext("又一位客户报修：%(description)s") % {"description": description},
        )
    return reporter


def fault_report_file(
    *, user, phone: str, description: str, account: Account | None = None, branch: Branch | None = None,
    address: str = "", idempotency_key: str, at: datetime.datetime | None = None, channel: str = Channel.PORTAL,
) -> FaultReportOutcome:
    """Record a fault report: on the known outage's ticket when one covers the account's transformer area now
    (restored or cancelled outages do not; one past its expected end still does), else on the transformer area's
    open repair ticket whose supply is not restored yet (opened within REPORT_JOIN_MAX), else on a new repair ticket
    (dispatched to a crew). A location without an account always opens its own ticket.

    Locks the outage row or the transformer area row, so concurrent reports from one area make one ticket, and the
    repair ticket a report joins.
    """
    at = _now(at)
    if account is None and branch is None:
        raise PortalRequestInvalid(_("请选择所在县公司"), field="branch")
    cleaned = _clean_or_raise(
        fields=[
            {"name": "phone", "type": "phone", "required": True},
            {"name": "description", "type": "textarea", "required": True, "max_length": 500},
            {"name": "address", "type": "text", "required": account is None, "max_length": 200},
        ],
        raw={"phone": phone, "description": description, "address": address},
    )
    phone, description = cleaned["phone"], cleaned["description"]
    with transaction.atomic():
        if account is None:
            ticket = ticket_open(
                business_type=BusinessType.FAULT_REPAIR, channel=channel,
                summary=_summary(gettext("报修：%(address)s") % {"address": cleaned["address"]}), branch=branch,
                description=description, contact_phone=phone, address=cleaned["address"], opened_by=user,
                idempotency_key=idempotency_key, at=at,
            )
            reporter = _reporter_add(ticket=ticket, user=user, account=None, phone=phone, description=description,
                                     at=at, joined=False, channel=channel)
            return FaultReportOutcome(ticket=ticket, reporter=reporter, outage=None, joined=False)

        outage = _outage_now(account=account, at=at)
        if outage is not None:
            Outage.objects.select_for_update().filter(pk=outage.pk).first()
            ticket = Ticket.objects.filter(outage=outage, business_type=BusinessType.FAULT_REPAIR).first()
            joined = ticket is not None
            if ticket is None:
                ticket = ticket_open(
                    business_type=BusinessType.FAULT_REPAIR, channel=channel,
                    summary=_summary(gettext("已知停电报修（%(title)s），无需另派抢修") % {"title": outage.title}),
                    account=account, description=description, contact_phone=phone, address=account.address,
                    opened_by=user, idempotency_key=f"fault-outage:{outage.pk}", at=at,
                    transformer_area=_area(account),
                )
                Ticket.objects.filter(pk=ticket.pk).update(outage=outage)
                ticket.outage = outage
                ticket_event_record(
                    ticket=ticket, kind=TicketEvent.Kind.NOTE, at=at, user=None, after={"outage": outage.pk},
                    note=gettext("报修区域在已知停电范围内：%(title)s") % {"title": outage.title},
                )
            reporter = _reporter_add(ticket=ticket, user=user, account=account, phone=phone,
                                     description=description, at=at, joined=joined, channel=channel)
            return FaultReportOutcome(ticket=ticket, reporter=reporter, outage=outage, joined=joined)

        area = _area(account, lock=True)
        ticket = _repair_ticket_to_join(area=area, at=at) if area is not None else None
        joined = ticket is not None
        if ticket is None:
            ticket = ticket_open(
                business_type=BusinessType.FAULT_REPAIR, channel=channel,
                summary=_summary(gettext("报修：%(area)s") % {"area": area.name if area else account.address}),
                account=account, description=description, contact_phone=phone, address=account.address,
                transformer_area=area, opened_by=user, idempotency_key=idempotency_key, at=at,
            )
        reporter = _reporter_add(ticket=ticket, user=user, account=account, phone=phone, description=description,
                                 at=at, joined=joined, channel=channel)
        return FaultReportOutcome(ticket=ticket, reporter=reporter, outage=None, joined=joined)


def _repair_ticket_to_join(*, area: TransformerArea, at: datetime.datetime) -> Ticket | None:
    """The area's latest open repair ticket whose crew has not restored supply yet (opened within REPORT_JOIN_MAX),
    locked. Joining only before the restore step is done is what gets every joined reporter told when the crew
    restores supply (portal.requests.receivers), never before their own report: the restore step's submission
    locks the ticket too, so the ticket is checked again once locked."""
    restored = TicketStep.objects.filter(
        ticket=OuterRef("pk"), step_definition__code=_RESTORE_STEP_CODE, state=TicketStep.State.COMPLETED
    )
    joinable = Ticket.objects.filter(
        ~Exists(restored), business_type=BusinessType.FAULT_REPAIR, transformer_area=area, outage__isnull=True,
        state__in=_OPEN_STATES, opened_at__gte=at - REPORT_JOIN_MAX,
    )
    ticket = joinable.order_by("-opened_at", "-pk").first()
    if ticket is None:
        return None
    Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
    return ticket if joinable.filter(pk=ticket.pk).exists() else None


def _area(account: Account, *, lock: bool = False) -> TransformerArea | None:
    area_id = account_transformer_area_id(account=account)
    if area_id is None:
        return None
    areas = TransformerArea.objects.select_for_update() if lock else TransformerArea.objects
    return areas.filter(pk=area_id).first()


def reporters_mark_told(*, reporter_ids: list[int], at: datetime.datetime | None = None) -> int:
    """Record that these reporters were told power is back (only those not told before); returns how many."""
    return TicketReporter.objects.filter(pk__in=reporter_ids, told_restored_at__isnull=True).update(
        told_restored_at=_now(at)
    )


# --- rating and guest tracking ----------------------------------------------------------------------------------


def portal_ticket_rate(*, user, ticket: Ticket, satisfaction: int, comment: str = "") -> Ticket:
    """The ticket's own party rates it once it is closed (someone who only joined a shared fault report does not):
    recorded as the ticket's customer, or, for a ticket with no customer (a complaint naming only a county, a fault
    reported by location), as the portal user who opened it (ticket_rate)."""
    if not ticket_owned_by(ticket=ticket, user=user):
        raise TicketPermissionDenied(_("您不能评价该工单"))
    if ticket.customer_id is None:
        return ticket_rate(ticket_id=ticket.pk, satisfaction=satisfaction, comment=comment, user=user)
    return ticket_rate(ticket_id=ticket.pk, satisfaction=satisfaction, comment=comment, customer=ticket.customer)


# Guest tracking: this many failed lookups from one address within the window lock it for the window. Every lookup
# is a TrackingAttempt row, so the lock holds through a cache outage (the cache fails soft) and eviction.
TRACKING_MAX_FAILURES = 10
TRACKING_WINDOW = datetime.timedelta(minutes=15)


def tracking_locked_until(*, ip_address: str | None, now: datetime.datetime) -> datetime.datetime | None:
    """When the lock on this address ends (None: not locked). TRACKING_MAX_FAILURES failures within
    TRACKING_WINDOW lock it for TRACKING_WINDOW from the last of them; a locked address's lookups are refused
    unrecorded, so the failures before a lock never count towards the next one. One indexed query.

    Addresses that are not valid IP addresses (None) share one count."""
    failures = list(
        TrackingAttempt.objects.filter(
            ip_address=ip_address, succeeded=False, attempted_at__gt=now - 2 * TRACKING_WINDOW
        ).order_by("attempted_at").values_list("attempted_at", flat=True)
    )
    ends = [
        failures[last] + TRACKING_WINDOW
        for last in range(TRACKING_MAX_FAILURES - 1, len(failures))
        if failures[last] - failures[last - TRACKING_MAX_FAILURES + 1] <= TRACKING_WINDOW
    ]
    return max(ends) if ends and max(ends) > now else None


def tracking_allowed_check(*, ip_address: str | None, now: datetime.datetime | None = None) -> None:
    """Refuse (TrackingLocked, with the minutes left) an address with too many recent failed lookups."""
    now = _now(now)
    locked_until = tracking_locked_until(ip_address=ip_address, now=now)
    if locked_until is not None:
        minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
        raise TrackingLocked(_("查询失败次数过多，请%(minutes)s分钟后再试") % {"minutes": minutes})


def tracking_attempt_record(*, ip_address: str | None, succeeded: bool, now: datetime.datetime | None = None) -> None:
    """Record one guest lookup from this address; the TRACKING_MAX_FAILURES-th failure within the window locks it."""
    TrackingAttempt.objects.create(ip_address=ip_address, succeeded=succeeded, attempted_at=_now(now))
