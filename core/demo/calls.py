"""Demo hotline: the demo agent's place on the queue, five colleagues, and the last 24 hours of calls, so the
supervisors' wallboard and the agent console have a day to show.

The history is written directly, as core.services.calls would have left each call once over (the same outcome
rules), because replaying it through the service would push hundreds of screen-pops and wallboard updates to
nobody and move the agents' presence through the past. Calls carry keys "demo-<YYYYMMDDHH>-<n>" (their Beijing
hour and number in it): a call already there is left alone, so running the seed again adds only hours not yet
seeded. The colleagues cannot sign in (no usable password) and are never ready, so no real call is offered to them.
"""
from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.demo.names import person_name
from core.models import (
    AgentPresence,
    AgentState,
    AgentStateChange,
    Call,
    CallOutcome,
    CallState,
    CallTransport,
    Customer,
    IdentifiedBy,
    Outage,
    OutageState,
)
from core.services.calls import WrapUpCode
from core.services.roles import ROLE_AGENT, role_group, roles_sync

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
KEY_PREFIX = "demo-"
DEMO_AGENT = "demo-agent"
DEMO_AGENT_INTERFACE = "Local/1001@agents/n"
COLLEAGUES = 5
# Calls an hour by Beijing hour: quiet nights (fault reports), morning and afternoon peaks.
HOURLY_CALLS = (3, 2, 2, 1, 1, 2, 4, 10, 26, 38, 40, 34, 22, 24, 34, 36, 30, 24, 16, 14, 12, 9, 6, 4)
# No call starts closer to the seed's clock than this, so none ends in the future (the longest lasts 12 minutes).
LATEST_GAP = datetime.timedelta(minutes=15)
DAY = datetime.timedelta(hours=24)
# The colleagues' states at the end of the seed: visible on the wallboard, never offered a call.
COLLEAGUE_STATES = (
    (AgentState.NOT_READY, "培训"),
    (AgentState.NOT_READY, "小休"),
    (AgentState.NOT_READY, "会议"),
    (AgentState.LOGGED_OUT, ""),
    (AgentState.LOGGED_OUT, ""),
)
WRAP_UP_WEIGHTS = (
    (WrapUpCode.RESOLVED, 45), (WrapUpCode.INFORMATION, 25), (WrapUpCode.TICKET_OPENED, 15),
    (WrapUpCode.COMPLAINT, 5), (WrapUpCode.CALLBACK, 5), (WrapUpCode.TRANSFERRED, 3), (WrapUpCode.NUISANCE, 2),
)
IVR_INTENTS = ("balance", "arrears", "bill", "outage", "fault_report", "ticket_progress", "payment_link")


@dataclass
class DemoCallsResult:
    added: int = 0
    existing: int = 0
    agents: int = 0


def _agents(rng: random.Random, now: datetime.datetime) -> list[tuple]:
    """The demo agent (made by demo_logins) and the five colleagues, each with a presence on the queue, as
    (user, interface) pairs."""
    user_model = get_user_model()
    queue = settings.CALLCENTER_QUEUE
    demo_agent = user_model.objects.filter(username=DEMO_AGENT).first()
    agents = []
    if demo_agent is not None:
        presence, _made = AgentPresence.objects.get_or_create(
            agent=demo_agent,
            defaults={"interface": DEMO_AGENT_INTERFACE, "queue": queue, "state": AgentState.LOGGED_OUT, "since": now},
        )
        agents.append((demo_agent, presence.interface or DEMO_AGENT_INTERFACE))
    roles_sync()
    group = role_group(code=ROLE_AGENT)
    for number, (state, reason) in enumerate(COLLEAGUE_STATES, start=2):
        name = person_name(rng, female=number % 2 == 0)
        colleague, created = user_model.objects.get_or_create(
            username=f"demo-agent-{number:02d}",
            defaults={"first_name": name[1:], "last_name": name[0], "is_staff": True},
        )
        if created:
            colleague.set_unusable_password()
            colleague.save(update_fields=["password"])
            colleague.groups.add(group)
        presence, made = AgentPresence.objects.get_or_create(
            agent=colleague,
            defaults={"interface": f"Local/{1000 + number}@agents/n", "queue": queue, "state": state,
                      "reason": reason, "since": now - datetime.timedelta(minutes=rng.randint(3, 40))},
        )
        if made:
            AgentStateChange.objects.create(agent=colleague, state=state, reason=reason, at=presence.since)
        agents.append((colleague, presence.interface or f"Local/{1000 + number}@agents/n"))
    return agents


def _weighted(rng: random.Random, weights) -> str:
    return rng.choices([value for value, _weight in weights], [weight for _value, weight in weights])[0]


def _call(rng: random.Random, *, key: str, started_at: datetime.datetime, caller, agents, outage_id) -> Call:
    """One finished call as the service would have left it."""
    number, customer_id, account_id = caller
    intent = rng.choice(IVR_INTENTS)
    path = [
        {"node": "language", "input": "1", "at": (started_at + datetime.timedelta(seconds=4)).isoformat()},
        {"node": "main_menu", "input": str(IVR_INTENTS.index(intent) + 1),
         "at": (started_at + datetime.timedelta(seconds=12)).isoformat()},
    ]
    data = {"language": "zh-hans", "intent": intent}
    roll = rng.random()
    call = Call(
        transport=CallTransport.ASTERISK, call_key=key, caller_number=number, dialled_number="95598",
        state=CallState.ENDED, started_at=started_at, customer_id=customer_id, account_id=account_id,
        identified_by=IdentifiedBy.CALLER_ID if customer_id else "", ivr_path=path, ivr_data=data,
    )
    if outage_id and roll < 0.06:
        call.outage_id, call.storm_informed = outage_id, True
        call.outcome, call.ended_at = CallOutcome.STORM_INFORMED, started_at + datetime.timedelta(seconds=45)
    elif roll < 0.40:
        data["self_served"] = True
        call.outcome, call.ended_at = CallOutcome.IVR_RESOLVED, started_at + datetime.timedelta(
            seconds=rng.randint(40, 150))
    elif roll < 0.45:
        call.outcome, call.ended_at = CallOutcome.IVR_ABANDONED, started_at + datetime.timedelta(
            seconds=rng.randint(10, 60))
    else:
        call.queue = settings.CALLCENTER_QUEUE
        call.queued_at = started_at + datetime.timedelta(seconds=rng.randint(20, 60))
        if rng.random() < 0.07:
            wait = rng.randint(15, 120)
            call.outcome, call.queue_wait_seconds = CallOutcome.ABANDONED, wait
            call.ended_at = call.queued_at + datetime.timedelta(seconds=wait)
        else:
            wait = min(int(rng.expovariate(1 / 12)), 180)
            talk = rng.randint(50, 420)
            agent, interface = rng.choice(agents)
            call.outcome, call.queue_wait_seconds, call.talk_seconds = CallOutcome.ANSWERED, wait, talk
            call.answered_at = call.queued_at + datetime.timedelta(seconds=wait)
            call.ended_at = call.answered_at + datetime.timedelta(seconds=talk)
            call.agent, call.agent_interface = agent, interface
            call.wrap_up_code = _weighted(rng, WRAP_UP_WEIGHTS)
            call.wrap_up_ended_at = call.ended_at + datetime.timedelta(seconds=rng.randint(8, 60))
    return call


def demo_calls_seed(*, now: datetime.datetime | None = None, stdout=None, seed: int = 95598) -> DemoCallsResult:
    """Add the demo agents' presence and the calls of the 24 hours before `now` not there yet. One transaction."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    result = DemoCallsResult()
    rng = random.Random(seed)
    with transaction.atomic():
        agents = _agents(rng, now)
        result.agents = len(agents)
        callers = list(
            Customer.objects.exclude(phone="").order_by("pk").values_list("phone", "pk", "accounts__pk")[:400]
        )
        # Storm-mode callers were told of an outage under way during the day, when the demo has one.
        outage_id = (
            Outage.objects.filter(state=OutageState.ANNOUNCED, starts_at__lte=now, ends_at__gte=now - DAY)
            .order_by("-starts_at").values_list("pk", flat=True).first()
        )
        end = now - LATEST_GAP
        hour_start = timezone.localtime(end, LOCAL_TZ).replace(minute=0) - datetime.timedelta(hours=23)
        calls = []
        for offset in range(24):
            start = hour_start + datetime.timedelta(hours=offset)
            # Every call draws from its own generator keyed like the call: the same hour is the same hour whenever
            # the seed runs, and an hour seeded in part is completed later with the calls it lacked.
            hour_rng = random.Random(f"{seed}-{start:%Y%m%d%H}")
            times = sorted(hour_rng.randint(0, 3599) for _n in range(HOURLY_CALLS[start.hour]))
            for n, second in enumerate(times):
                started_at = start + datetime.timedelta(seconds=second)
                if started_at > end:
                    break
                key = f"{KEY_PREFIX}{start:%Y%m%d%H}-{n}"
                call_rng = random.Random(f"{seed}-{key}")
                caller = call_rng.choice(callers) if callers and call_rng.random() < 0.8 else (
                    f"1{call_rng.randint(3, 9)}{call_rng.randint(0, 999999999):09d}", None, None
                )
                calls.append(_call(
                    call_rng, key=key, started_at=started_at, caller=caller, agents=agents, outage_id=outage_id,
                ))
        existing = set(Call.objects.filter(call_key__in=[call.call_key for call in calls]).values_list(
            "call_key", flat=True))
        new = [call for call in calls if call.call_key not in existing]
        Call.objects.bulk_create(new, batch_size=500)
        result.added, result.existing = len(new), len(existing)
    if stdout is not None:
        stdout.write(
            _("演示话务：新增 %(added)s 通呼叫（已有 %(existing)s 通），%(agents)s 名坐席。")
            % {"added": result.added, "existing": result.existing, "agents": result.agents}
        )
    return result
