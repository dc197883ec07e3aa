"""What the agent's screen shows when a call rings: who is calling (by caller ID, IVR entry or the agent's
confirmation), their accounts with balance, arrears and last bills, open tickets with their timelines, outages
affecting them and the IVR path taken. Personal data is masked here; core.services.personal_data opens it.

JSON-ready (strings, numbers, lists, dicts) so it goes over the channel layer as it is, in a bounded number of
queries whatever the caller holds: accounts, bills, outages and tickets are each capped and read in one query."""
from __future__ import annotations

import datetime
from collections import defaultdict

from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from core.models import (
    Account,
    AgentPresence,
    AgentState,
    Bill,
    Call,
    CallState,
    Customer,
    Outage,
    OutageArea,
    Ticket,
)
from core.selectors.binding import address_mask, name_mask
from core.selectors.outages import outages_not_over
from core.selectors.tickets import ticket_timeline
from core.services.personal_data import REVEALABLE_FIELDS

ACCOUNTS_LIMIT = 10
BILLS_PER_ACCOUNT = 3
CANDIDATES_LIMIT = 5
TICKETS_LIMIT = 5
OUTAGE_HORIZON_DAYS = 7


def phone_mask(phone: str) -> str:
    """13812345678 -> 138****5678; a short number keeps its last two digits only."""
    phone = (phone or "").strip()
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    if len(phone) > 2:
        return "*" * (len(phone) - 2) + phone[-2:]
    return "*" * len(phone)


def email_mask(email: str) -> str:
    """someone@example.com -> s***@example.com."""
    email = (email or "").strip()
    if "@" not in email:
        return "***" if email else ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def _iso(moment: datetime.datetime | datetime.date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _money(value) -> str:
    return f"{value:.2f}"


def call_for_agent_or_none(*, call_id: int, agent) -> Call | None:
    """The call if it is this agent's: answered by them, or ringing on their interface now. Superusers see any."""
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        return None
    if agent.is_superuser or call.agent_id == agent.pk:
        return call
    if call.agent_id is None and call.agent_interface:
        interface = AgentPresence.objects.filter(agent=agent).values_list("interface", flat=True).first()
        if interface and interface == call.agent_interface:
            return call
    return None


# A call still marked ringing after this long lost its hang-up (a PBX restart): it is nobody's call now.
RINGING_HORIZON = datetime.timedelta(hours=1)
_AGENT_HOLDS_CALL = (AgentState.ON_CALL, AgentState.AFTER_CALL_WORK)


def agents_current_calls(*, now: datetime.datetime, agent_id: int | None = None) -> dict[int, int]:
    """The call each agent's screen should show now, agent id -> call id: the call ringing on their interface
    (the newest), else the call they are on or wrapping up. Agents with none are absent. One agent's with
    `agent_id`. Two queries whatever the number of agents.

    The console compares this with the pops it has passed on: a pop the channel layer dropped, or one sent while
    the agent's browser was reconnecting, is sent again."""
    presences = AgentPresence.objects.exclude(state=AgentState.LOGGED_OUT)
    if agent_id is not None:
        presences = presences.filter(agent_id=agent_id)
    rows = list(presences.values_list("agent_id", "interface", "state", "current_call_id"))
    calls = {agent: call for agent, _interface, state, call in rows if call is not None and state in _AGENT_HOLDS_CALL}
    agent_by_interface = {interface: agent for agent, interface, _state, _call in rows if interface}
    if agent_by_interface:
        ringing = (
            Call.objects.filter(state=CallState.RINGING, agent_interface__in=list(agent_by_interface),
                                updated_at__gte=now - RINGING_HORIZON)
            .order_by("updated_at", "pk")
            .values_list("agent_interface", "pk")
        )
        for interface, call_id in ringing:
            calls[agent_by_interface[interface]] = call_id
    return calls


def _customer_part(customer: Customer | None) -> dict | None:
    if customer is None:
        return None
    return {
        "id": customer.pk,
        "kind": customer.kind,
        "kind_label": str(customer.get_kind_display()),
        "name_masked": name_mask(customer.name),
        "phone_masked": phone_mask(customer.phone),
        "email_masked": email_mask(customer.email),
        "id_number_masked": customer.id_number_masked,
    }


def _bills_by_account(account_ids: list[int]) -> dict[int, list[dict]]:
    """The latest regular bills of each account, newest first (one query, ranked in the database)."""
    rows = (
        Bill.objects.filter(account_id__in=account_ids, kind=Bill.Kind.REGULAR)
        .annotate(rank=Window(
            RowNumber(), partition_by=[F("account_id")], order_by=[F("period").desc(), F("id").desc()]
        ))
        .filter(rank__lte=BILLS_PER_ACCOUNT)
        .order_by("account_id", "-period", "-id")
    )
    bills: dict[int, list[dict]] = defaultdict(list)
    for bill in rows:
        bills[bill.account_id].append(
            {
                "number": bill.number,
                "period": bill.period.strftime("%Y-%m"),
                "kwh": f"{bill.kwh:.2f}",
                "total": _money(bill.total),
                "outstanding": _money(bill.outstanding),
                "state": bill.state,
                "state_label": str(bill.get_state_display()),
                "due_date": _iso(bill.due_date),
            }
        )
    return bills


def _outages_by_account(account_ids: list[int], *, now: datetime.datetime) -> dict[int, list[dict]]:
    """Outages over each account's transformer areas on now (however long past their expected end: not restored)
    or starting within the horizon (two queries)."""
    outages = outages_not_over(at=now).filter(starts_at__lte=now + datetime.timedelta(days=OUTAGE_HORIZON_DAYS))
    pairs = set(
        OutageArea.objects.filter(
            outage__in=outages.values("pk"), transformer_area__service_points__account_id__in=account_ids,
        ).values_list("transformer_area__service_points__account_id", "outage_id")
    )
    by_id = outages.in_bulk({outage_id for _account_id, outage_id in pairs}) if pairs else {}
    by_account: dict[int, list[dict]] = defaultdict(list)
    for account_id, outage_id in sorted(pairs, key=lambda pair: (by_id[pair[1]].starts_at, pair[1])):
        by_account[account_id].append(_outage_part(by_id[outage_id], now=now))
    return by_account


def _outage_part(outage: Outage, *, now: datetime.datetime) -> dict:
    return {
        "id": outage.pk,
        "kind": outage.kind,
        "kind_label": str(outage.get_kind_display()),
        "title": outage.title,
        "reason": outage.reason,
        "starts_at": _iso(outage.starts_at),
        "ends_at": _iso(outage.ends_at),
        "in_progress": outage.starts_at <= now,
        # On and its expected end passed: the agent must not promise that time.
        "past_expected_end": outage.past_expected_end,
    }


def _account_part(account: Account, *, bills: list[dict], outages: list[dict]) -> dict:
    return {
        "id": account.pk,
        "number": account.number,
        "name_masked": name_mask(account.name),
        "address_masked": address_mask(account.address),
        "category_label": str(account.get_category_display()),
        "billing_mode": account.billing_mode,
        "billing_mode_label": str(account.get_billing_mode_display()),
        "status": account.status,
        "status_label": str(account.get_status_display()),
        "balance": _money(account.balance),
        "arrears": _money(account.arrears),
        "prepaid_balance": _money(account.prepaid_balance),
        "bills": bills,
        "outages": outages,
    }


def _ticket_part(ticket: Ticket) -> dict:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "business_type": ticket.business_type,
        "business_type_label": str(ticket.get_business_type_display()),
        "state": ticket.state,
        "state_label": str(ticket.get_state_display()),
        "summary": ticket.summary,
        "account_number": ticket.account.number if ticket.account_id else "",
        "opened_at": _iso(ticket.opened_at),
        "due_at": _iso(ticket.due_at),
        "timeline": [{"at": _iso(entry.at), "text": entry.text} for entry in ticket_timeline(ticket=ticket)],
    }


def _candidates(call: Call) -> list[dict]:
    """Accounts whose holder's phone is the calling number, for the agent to confirm who is calling."""
    if not call.caller_number:
        return []
    accounts = (
        Account.objects.filter(customer__phone=call.caller_number)
        .select_related("customer")
        .order_by("number")[:CANDIDATES_LIMIT]
    )
    return [
        {
            "account_id": account.pk,
            "account_number": account.number,
            "customer_id": account.customer_id,
            "name_masked": name_mask(account.customer.name),
            "address_masked": address_mask(account.address),
        }
        for account in accounts
    ]


def call_summary(*, call: Call) -> dict:
    """The call's own part of the pop (state, times, IVR path, wrap-up), for updates after the first pop."""
    return _call_part(call)


def _call_part(call: Call) -> dict:
    outage = call.outage
    return {
        "id": call.pk,
        "call_key": call.call_key,
        "transport": call.transport,
        "state": call.state,
        "state_label": str(call.get_state_display()),
        "caller_number_masked": phone_mask(call.caller_number),
        "dialled_number": call.dialled_number,
        "language": call.language,
        "identified_by": call.identified_by,
        "identified_by_label": str(call.get_identified_by_display()),
        "started_at": _iso(call.started_at),
        "queued_at": _iso(call.queued_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "queue": call.queue,
        "queue_wait_seconds": call.queue_wait_seconds,
        "ivr_path": [
            {"node": str(step.get("node", "")), "input": str(step.get("input", "")), "at": step.get("at")}
            for step in call.ivr_path
            if isinstance(step, dict)
        ],
        "ivr_data": call.ivr_data if isinstance(call.ivr_data, dict) else {},
        "storm_informed": call.storm_informed,
        "storm_outage": {"id": outage.pk, "title": outage.title, "reason": outage.reason,
                         "ends_at": _iso(outage.ends_at)} if outage is not None else None,
        "wrap_up_code": call.wrap_up_code,
        "wrap_up_note": call.wrap_up_note,
    }


def caller_profile(*, call: Call, now: datetime.datetime | None = None) -> dict:
    """The screen-pop for `call`: the call, the identified customer (masked), their accounts with the last bills
    and outages, their open tickets with timelines, and when nobody is identified yet the accounts the calling
    number matches. At most 8 + TICKETS_LIMIT queries."""
    now = now or timezone.now()
    call = Call.objects.select_related("customer", "account", "outage").get(pk=call.pk)
    customer = call.customer or (call.account.customer if call.account_id else None)
    accounts: list[Account] = []
    if customer is not None:
        accounts = list(Account.objects.filter(customer=customer).order_by("number")[:ACCOUNTS_LIMIT])
        if call.account_id and all(account.pk != call.account_id for account in accounts):
            accounts.insert(0, call.account)
        # The account the caller keyed in or was confirmed on comes first.
        accounts.sort(key=lambda account: (account.pk != call.account_id, account.number))
    account_ids = [account.pk for account in accounts]
    bills = _bills_by_account(account_ids) if account_ids else {}
    outages = _outages_by_account(account_ids, now=now) if account_ids else {}
    tickets: list[Ticket] = []
    if customer is not None:
        tickets = list(
            Ticket.objects.filter(Q(customer=customer) | Q(account_id__in=account_ids))
            .filter(state__in=[Ticket.State.OPEN, Ticket.State.SUSPENDED])
            .select_related("account")
            .order_by("-opened_at", "-id")[:TICKETS_LIMIT]
        )
    return {
        "call": _call_part(call),
        "customer": _customer_part(customer),
        "account_id": call.account_id,
        "accounts": [
            _account_part(account, bills=bills.get(account.pk, []), outages=outages.get(account.pk, []))
            for account in accounts
        ],
        "tickets": [_ticket_part(ticket) for ticket in tickets],
        "candidates": _candidates(call) if customer is None else [],
        "revealable": list(REVEALABLE_FIELDS),
    }
