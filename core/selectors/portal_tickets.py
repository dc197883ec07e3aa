"""Reads for the portal's requests and tickets: which applications a customer may make and what each asks for
(taken from the process definition's accept step, so the form and the back office validate the same fields),
the user's tickets, what of a ticket a portal user may see, and the fault reporters still to be told power is back.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import get_language

from core.models import (
    Account,
    AccountBinding,
    BusinessType,
    ProcessDefinition,
    StepDefinition,
    Ticket,
    TicketReporter,
)
from core.models.tickets import TicketAttachment
from core.selectors.callers import caller_number_normalise
from core.selectors.portal_access import raised_for_the_holder_of_a_bound_account

# The business types a customer applies for on the portal (业扩报装, 变更用电, 计量异常), in the order offered.
APPLICATION_TYPES: tuple[str, ...] = (
    BusinessType.LV_RESIDENTIAL_CONNECTION,
    BusinessType.LV_NON_RESIDENTIAL_CONNECTION,
    BusinessType.HV_CONNECTION,
    BusinessType.CAPACITY_INCREASE,
    BusinessType.CAPACITY_REDUCTION,
    BusinessType.SUSPENSION,
    BusinessType.RESUMPTION,
    BusinessType.NAME_CHANGE,
    BusinessType.TRANSFER,
    BusinessType.TARIFF_CLASS_CHANGE,
    BusinessType.ACCOUNT_CLOSURE,
    BusinessType.METER_ACCURACY_CHECK,
)
# Customer feedback kinds (投诉、举报、意见、建议、表扬), in the order offered.
FEEDBACK_TYPES: tuple[str, ...] = (
    BusinessType.COMPLAINT,
    BusinessType.REPORT,
    BusinessType.OPINION,
    BusinessType.SUGGESTION,
    BusinessType.PRAISE,
)
# The accept step's fields staff fill in themselves, never the customer.
STAFF_ONLY_FIELDS = frozenset({"documents_complete"})
ACCEPT_STEP_CODE = "accept"


@dataclass(frozen=True)
class ApplicationType:
    business_type: str
    label: str
    requires_account: bool


def application_types() -> list[ApplicationType]:
    """The application types with an active process definition, each saying whether it needs an account."""
    definitions = {
        d.business_type: d
        for d in ProcessDefinition.objects.filter(business_type__in=APPLICATION_TYPES, active=True)
    }
    return [
        ApplicationType(business_type=t, label=str(BusinessType(t).label), requires_account=definitions[t].requires_account)
        for t in APPLICATION_TYPES
        if t in definitions
    ]


def application_definition(*, business_type: str) -> ProcessDefinition | None:
    if business_type not in APPLICATION_TYPES:
        return None
    return ProcessDefinition.objects.filter(business_type=business_type, active=True).first()


def _accept_step(definition: ProcessDefinition) -> StepDefinition | None:
    first = definition.steps.order_by("order").first()
    return first if first is not None and first.code == ACCEPT_STEP_CODE else None


def application_fields(*, definition: ProcessDefinition) -> list[dict]:
    """The fields the customer fills in: the accept step's field spec less what only staff confirm (a process
    whose first step is not an acceptance asks only for the description)."""
    step = _accept_step(definition)
    if step is None:
        return []
    return [spec for spec in (step.fields or []) if spec.get("name") not in STAFF_ONLY_FIELDS]


def application_checks(*, definition: ProcessDefinition) -> list[str]:
    """The accept step's named checks, run on the customer's answers before the ticket is opened."""
    step = _accept_step(definition)
    return list(step.checks or []) if step is not None else []


def field_label(spec: dict) -> str:
    """A field's label in the active language."""
    if (get_language() or "").startswith("en") and spec.get("label_en"):
        return spec["label_en"]
    return spec.get("label") or spec.get("name", "")


# --- the user's tickets ---------------------------------------------------------------------------------------


def bound_account_ids(*, user) -> QuerySet:
    return AccountBinding.objects.filter(user=user, unbound_at__isnull=True).values("account_id")


def tickets_of_user(*, user) -> QuerySet[Ticket]:
    """The user's tickets (opened by them, reported on by them, or raised for the holder of an account they have
    bound), newest first, with what the list shows (one query)."""
    if not getattr(user, "is_authenticated", False):
        return Ticket.objects.none()
    visible = Ticket.objects.filter(
        Q(opened_by=user) | Q(reporters__user=user) | raised_for_the_holder_of_a_bound_account(user=user)
    ).values("pk")
    return (
        Ticket.objects.filter(pk__in=visible)
        .select_related("account", "current_step__step_definition")
        .order_by("-opened_at", "-pk")
    )


def ticket_owned_by(*, ticket: Ticket, user) -> bool:
    """Whether the user is the ticket's own party (opened it, or it was raised for the holder of an account they have
    bound), as opposed to someone who only joined a shared fault report: only the owner sees its details."""
    if not getattr(user, "is_authenticated", False):
        return False
    if ticket.opened_by_id == user.pk:
        return True
    return ticket.account_id is not None and Ticket.objects.filter(
        raised_for_the_holder_of_a_bound_account(user=user), pk=ticket.pk
    ).exists()


def ticket_documents_of_user(*, ticket: Ticket, user) -> QuerySet[TicketAttachment]:
    """The documents of the ticket this customer filed themselves: an ID copy is shown to whoever uploaded it (and
    to staff), never to another binder of the account, and the documents staff add stay with staff."""
    if not getattr(user, "is_authenticated", False):
        return TicketAttachment.objects.none()
    return TicketAttachment.objects.filter(ticket=ticket, uploaded_by=user).order_by("uploaded_at", "id")


def ticket_for_portal(*, number: str) -> Ticket | None:
    return (
        Ticket.objects.select_related("account", "customer", "outage", "transformer_area", "branch")
        .filter(number=number)
        .first()
    )


def ticket_tracked(*, number: str, phone: str) -> Ticket | None:
    """The ticket with this number whose contact, customer or a reporter has this phone; None otherwise (a wrong
    number and a wrong phone look the same). Phones are compared as numbers, however typed or stored: spaces,
    dashes, +86 or 0086 in front."""
    number, phone = (number or "").strip(), caller_number_normalise(phone)
    if not number or not phone:
        return None
    ticket = Ticket.objects.select_related("customer").filter(number=number).first()
    if ticket is None:
        return None
    on_file = [ticket.contact_phone, ticket.customer.phone if ticket.customer is not None else ""]
    if phone in {caller_number_normalise(known) for known in on_file}:
        return ticket
    reporters = TicketReporter.objects.filter(ticket=ticket).exclude(phone="").values_list("phone", flat=True)
    if any(caller_number_normalise(known) == phone for known in reporters.iterator()):
        return ticket
    return None


# --- fault reports ----------------------------------------------------------------------------------------------


def account_transformer_area_id(*, account: Account) -> int | None:
    """The transformer area feeding the account (its first service point's)."""
    return account.service_points.order_by("pk").values_list("transformer_area_id", flat=True).first()


def reporters_untold(*, ticket_ids) -> list[TicketReporter]:
    """Reporters on these tickets not yet told power is back, oldest first, with who to tell."""
    return list(
        TicketReporter.objects.filter(ticket_id__in=ticket_ids, told_restored_at__isnull=True)
        .select_related("customer", "account", "user", "ticket__transformer_area", "ticket__outage")
        .order_by("reported_at", "pk")
    )
