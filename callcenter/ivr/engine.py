"""The IVR engine: runs the one flow (callcenter.ivr.flow) for one call, whatever the transport.

A call's place in the flow is a small JSON-serialisable dict (the Twilio views keep it in the cache per CallSid, the
AMI worker in memory per channel). `IvrEngine.start` begins a call and `IvrEngine.resume` feeds it the keys the
caller pressed (None or "" for none); both return the new state and a Turn: what to say (Pieces, see speech.py),
then either the keys to wait for, or how the IVR ends (to the agents' queue, or hang up).

Each turn's facts (IvrStep per node left, CallIdentified, StormInformed) go to core.services.calls.
call_facts_apply at the end of the turn. The transfer itself (CallQueued) is reported by the transport that knows
when the caller joined the queue: the Twilio view as it answers <Enqueue>, the AMI tracker on QueueCallerJoin.
"""
from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils import timezone, translation

from core.account_numbers import account_number_validate
from core.call_facts import CallFact, CallIdentified, IvrStep, StormInformed
from core.errors import DomainError, InvalidAccountNumber
from core.models import Call, CallTicketRelation, IdentifiedBy, Outage, OutageKind, Ticket
from core.selectors.callers import (
    account_by_number,
    account_ivr_summary,
    account_matches_caller,
    accounts_for_caller_number,
    caller_number_normalise,
    outage_next_for_account,
    storm_match_for_caller,
    ticket_by_number,
)
from core.selectors.outages import OutageProgress, outage_progress
from core.selectors.tickets import ticket_progress_text
from core.services.caller_requests import (
    CallerPhoneMissing,
    NothingDue,
    RestorationCallbackInvalid,
    ivr_fault_report,
    payment_link_request,
    restoration_callback_register,
)
from core.services.calls import call_facts_apply, call_ticket_link

from .flow import (
    ACCOUNT_CHOICES,
    ACTION,
    COLLECT,
    MAX_ATTEMPTS,
    MENU,
    NODES,
    PROMPTS,
    START,
    TRANSFER,
    Input,
    Node,
)
from .speech import (
    EN,
    ZH,
    Piece,
    date_piece,
    datetime_piece,
    digits_piece,
    kwh_piece,
    money_piece,
    month_piece,
)

logger = logging.getLogger(__name__)

END_TRANSFER = "transfer"
END_HANGUP = "hangup"
# A flow that moves through more nodes than this in one turn has a loop: the caller goes to an agent.
_MAX_NODES_PER_TURN = 20


@dataclass(frozen=True)
class Turn:
    """What the transport does next: say `pieces` in `language`, then wait for `gather` keys or end."""

    pieces: list[Piece]
    language: str
    gather: Input | None = None
    end: str | None = None  # END_TRANSFER or END_HANGUP when the IVR is over
    node: str = ""


def prompt_piece(name: str, language: str) -> Piece:
    zh, en = PROMPTS[name]
    return Piece(text=en if language == EN else zh, files=(name,))


def _facts_apply(facts: Sequence[CallFact]) -> None:
    call_facts_apply(facts=facts)


@dataclass
class _Run:
    """One turn in progress: the state it changes, what it says, the facts it reports."""

    state: dict
    now: datetime.datetime
    pieces: list[Piece] = field(default_factory=list)
    facts: list[CallFact] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.state["data"].get("language", ZH)

    @property
    def call_key(self) -> str:
        return self.state["call_key"]

    def say(self, name: str) -> None:
        self.pieces.append(prompt_piece(name, self.language))

    def add(self, piece: Piece) -> None:
        self.pieces.append(piece)

    def learn(self, **data) -> None:
        self.state["data"].update(data)

    def step(self, node: str, keys: str) -> None:
        self.facts.append(
            IvrStep(call_key=self.call_key, node=node, input=keys, at=self.now, data=dict(self.state["data"]))
        )

    def identified(self, account_number: str, by: str) -> None:
        self.state["account"] = account_number
        self.learn(account_number=account_number)
        self.facts.append(CallIdentified(call_key=self.call_key, account_number=account_number, by=by, at=self.now))


class IvrEngine:
    """Runs the flow. `report` receives each turn's facts (call_facts_apply by default); `now` tells the time."""

    def __init__(
        self, *, report: Callable[[Sequence[CallFact]], None] | None = None,
        now: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self._report = report or _facts_apply
        self._now = now or timezone.now

    # --- entry points ------------------------------------------------------------------------------------------

    def start(self, *, call_key: str, transport: str, caller_number: str) -> tuple[dict, Turn]:
        """A call entered the IVR: a fresh state and the first turn."""
        state = {
            "call_key": call_key, "transport": transport, "caller": caller_number_normalise(caller_number),
            "node": START, "attempts": 0, "account": "", "candidates": [], "storm": None, "data": {"language": ZH},
        }
        run = _Run(state=state, now=self._now())
        return state, self._finish(run, self._go(run, START))

    def resume(self, state: dict, *, keys: str | None) -> tuple[dict, Turn]:
        """The caller pressed `keys` ("" or None: nothing before the timeout) at the node the state is at."""
        node = NODES.get(state.get("node", ""))
        run = _Run(state=state, now=self._now())
        if node is None or node.kind not in (MENU, COLLECT):
            # A stale or finished state (a late webhook after the end): nothing to wait for, end politely.
            return state, self._finish(run, self._go(run, "goodbye"))
        keys = "".join(ch for ch in (keys or "") if ch.isdigit() or ch in "*")
        if not keys:
            return state, self._finish(run, self._retry(run, node, keys, spoken="no-input"))
        if node.kind == MENU:
            route = node.routes.get(keys)
            if route is None:
                return state, self._finish(run, self._retry(run, node, keys, spoken="invalid-input"))
            run.learn(**route.data)
            run.step(node.name, keys)
            state["attempts"] = 0
            return state, self._finish(run, self._go(run, route.to))
        said = len(run.pieces)
        next_node = getattr(self, f"_collect_{node.action}")(run, keys)
        if next_node is None:
            return state, self._finish(
                run, self._retry(run, node, keys, spoken="invalid-input" if len(run.pieces) == said else "")
            )
        run.step(node.name, keys)
        state["attempts"] = 0
        return state, self._finish(run, self._go(run, next_node))

    # --- walking the flow ---------------------------------------------------------------------------------------

    def _finish(self, run: _Run, turn: Turn) -> Turn:
        self._report_pending(run)
        return turn

    def _report_pending(self, run: _Run) -> None:
        """Report the turn's facts so far (at its end, or before an action that needs the call's row)."""
        if run.facts:
            self._report(run.facts)
            run.facts = []

    def _retry(self, run: _Run, node: Node, keys: str, *, spoken: str) -> Turn:
        run.step(node.name, keys)
        run.state["attempts"] = run.state.get("attempts", 0) + 1
        if run.state["attempts"] >= MAX_ATTEMPTS:
            run.state["attempts"] = 0
            if node.on_exhausted == "agent":
                run.learn(transfer_reason="no_input" if not keys else "invalid_input")
            return self._go(run, node.on_exhausted)
        if spoken:
            run.say(spoken)
        return self._ask(run, node)

    def _ask(self, run: _Run, node: Node) -> Turn:
        if node.say:
            getattr(self, f"_say_{node.say}")(run)
        if node.prompt:
            run.say(node.prompt)
        return Turn(pieces=run.pieces, language=run.language, gather=node.input, node=node.name)

    def _go(self, run: _Run, name: str) -> Turn:
        for _hop in range(_MAX_NODES_PER_TURN):
            node = NODES[name]
            run.state["node"] = name
            if node.kind == ACTION:
                following = getattr(self, f"_act_{node.action}")(run)
                run.step(name, "")
                name = following
                continue
            if node.kind in (MENU, COLLECT):
                run.state["attempts"] = 0
                return self._ask(run, node)
            if node.prompt:
                run.say(node.prompt)
            run.step(name, "")
            end = END_TRANSFER if node.kind == TRANSFER else END_HANGUP
            return Turn(pieces=run.pieces, language=run.language, end=end, node=name)
        logger.error("IVR flow loop for call %s at node %s", run.call_key, name)
        run.learn(transfer_reason="flow_error")
        run.state["node"] = "agent"
        run.say("transfer")
        return Turn(pieces=run.pieces, language=run.language, end=END_TRANSFER, node="agent")

    # --- helpers ------------------------------------------------------------------------------------------------

    def _account(self, run: _Run):
        return account_by_number(number=run.state["account"]) if run.state.get("account") else None

    def _call_id(self, run: _Run) -> int | None:
        self._report_pending(run)
        return Call.objects.filter(call_key=run.call_key).values_list("pk", flat=True).first()

    def _account_tail(self, run: _Run) -> None:
        run.say("account-ending")
        run.add(digits_piece(run.state["account"][-4:], run.language))

    def _outage_notice(self, run: _Run, outage: Outage) -> None:
        language = run.language
        run.say("storm-intro")
        run.say({
            OutageKind.PLANNED: "outage-kind-planned", OutageKind.TEMPORARY: "outage-kind-temporary",
        }.get(outage.kind, "outage-kind-fault"))
        if language == ZH and outage.reason:
            # Staff type the reason in Chinese: Twilio can read it; no prompt file can hold it.
            run.add(Piece(text=PROMPTS["outage-reason"][0] + outage.reason + "。"))
        if outage_progress(outage=outage, at=run.now) == OutageProgress.PAST_EXPECTED_END:
            run.say("outage-past-expected-end")
        else:
            run.say("outage-expected-end")
            run.add(datetime_piece(outage.ends_at, language))

    # --- actions (flow.Node.action / say) -----------------------------------------------------------------------

    def _act_caller_lookup(self, run: _Run) -> str:
        run.say("welcome")
        caller = run.state["caller"]
        accounts = accounts_for_caller_number(phone=caller)
        run.state["candidates"] = [account.number for account in accounts[:ACCOUNT_CHOICES]]
        storm = storm_match_for_caller(phone=caller, at=run.now)
        if storm is not None:
            run.state["storm"] = {"outage_id": storm.outage.pk, "account": storm.account.number}
            run.learn(caller_id_match=True)
            run.identified(storm.account.number, IdentifiedBy.CALLER_ID)
            return "storm"
        if len(accounts) == 1:
            run.learn(caller_id_match=True)
            run.identified(accounts[0].number, IdentifiedBy.CALLER_ID)
        return "language"

    def _say_storm_notice(self, run: _Run) -> None:
        outage = Outage.objects.filter(pk=run.state["storm"]["outage_id"]).first()
        if outage is None:
            return
        self._outage_notice(run, outage)
        if not run.state["data"].get("storm_outage_id"):
            run.learn(storm_outage_id=outage.pk)
            run.facts.append(StormInformed(call_key=run.call_key, outage_id=outage.pk, at=run.now))

    def _say_language_menu(self, run: _Run) -> None:
        for language in (ZH, EN):
            run.add(Piece(text=prompt_piece("language-menu", language).text, files=("language-menu",),
                          language=language))

    def _act_restoration_register(self, run: _Run) -> str:
        storm = run.state["storm"]
        outage = Outage.objects.filter(pk=storm["outage_id"]).first()
        account = account_by_number(number=storm["account"])
        try:
            if outage is not None:
                restoration_callback_register(
                    outage=outage, phone=run.state["caller"], account=account, call_id=self._call_id(run),
                    at=run.now,
                )
        except RestorationCallbackInvalid:
            outage = None
        if outage is None:
            # Not a mobile, or the outage ended meanwhile: say so and go on to the menu.
            run.say("storm-register-failed")
            return "language"
        run.learn(restoration_sms=True, self_served=True)
        run.say("storm-registered")
        return "end"

    def _act_account_needed(self, run: _Run) -> str:
        if run.state.get("account"):
            return "intent"
        if run.state.get("candidates"):
            return "account_choice"
        return "account_entry"

    def _say_account_choice_say(self, run: _Run) -> None:
        for index, number in enumerate(run.state["candidates"], start=1):
            run.say("account-ending")
            run.add(digits_piece(number[-4:], run.language))
            run.say("press")
            run.add(digits_piece(str(index), run.language))
        run.say("account-other")

    def _collect_account_choice_pick(self, run: _Run, keys: str) -> str | None:
        if keys == "9":
            return "account_entry"
        candidates = run.state["candidates"]
        if keys.isdigit() and 1 <= int(keys) <= len(candidates):
            run.learn(caller_id_match=True)
            run.identified(candidates[int(keys) - 1], IdentifiedBy.CALLER_ID)
            return "intent"
        return None

    def _collect_account_number_check(self, run: _Run, keys: str) -> str | None:
        try:
            number = account_number_validate(keys)
        except InvalidAccountNumber:
            run.say("account-invalid")
            return None
        account = account_by_number(number=number)
        if account is None:
            run.say("account-not-found")
            return None
        run.learn(caller_id_match=account_matches_caller(account=account, phone=run.state["caller"]))
        run.identified(account.number, IdentifiedBy.IVR_ENTRY)
        return "intent"

    def _act_intent_dispatch(self, run: _Run) -> str:
        return {
            "balance": "balance", "outage": "outage", "fault_report": "fault_confirm", "payment_link": "payment_link",
        }.get(run.state["data"].get("intent", ""), "main_menu")

    def _act_balance_say(self, run: _Run) -> str:
        account = self._account(run)
        if account is None:
            return "account_entry"
        language = run.language
        summary = account_ivr_summary(account=account, as_of=timezone.localdate(run.now))
        self._account_tail(run)
        if summary.arrears > 0:
            run.say("arrears-amount")
            run.add(money_piece(summary.arrears, language))
        else:
            run.say("arrears-none")
        if summary.prepaid_credit > 0:
            run.say("prepaid-amount")
            run.add(money_piece(summary.prepaid_credit, language))
        if summary.latest_bill_period is None:
            run.say("latest-bill-none")
        else:
            run.say("latest-bill")
            run.add(month_piece(summary.latest_bill_period, language))
            run.say("bill-kwh")
            run.add(kwh_piece(summary.latest_bill_kwh, language))
            run.say("bill-total")
            run.add(money_piece(summary.latest_bill_total, language))
            run.say("bill-due")
            run.add(date_piece(summary.latest_bill_due_date, language))
        run.learn(self_served=True)
        return "after_service"

    def _act_outage_say(self, run: _Run) -> str:
        account = self._account(run)
        if account is None:
            return "account_entry"
        outage = outage_next_for_account(account=account, at=run.now)
        if outage is None:
            run.say("outage-none")
        elif outage.starts_at <= run.now:
            self._outage_notice(run, outage)
        else:
            run.say("outage-upcoming-intro")
            run.add(datetime_piece(outage.starts_at, run.language))
            run.say("outage-until")
            run.add(datetime_piece(outage.ends_at, run.language))
        run.learn(self_served=True)
        return "after_service"

    def _act_fault_report_file(self, run: _Run) -> str:
        account = self._account(run)
        if account is None:
            return "account_entry"
        try:
            outcome = ivr_fault_report(account=account, phone=run.state["caller"], call_key=run.call_key, at=run.now)
        except DomainError:
            logger.warning("IVR fault report refused for call %s", run.call_key, exc_info=True)
            run.learn(transfer_reason="fault_report_failed")
            return "agent"
        call_id = self._call_id(run)
        if call_id is not None:
            relation = CallTicketRelation.ADDED if outcome.joined else CallTicketRelation.OPENED
            call_ticket_link(call_id=call_id, ticket=outcome.ticket, relation=relation, at=run.now)
        run.say("fault-filed")
        run.add(digits_piece(outcome.ticket.number, run.language))
        run.say("fault-known-outage" if outcome.outage is not None else "fault-crew")
        run.learn(ticket_number=outcome.ticket.number, self_served=True)
        return "after_service"

    def _collect_ticket_progress_say(self, run: _Run, keys: str) -> str | None:
        ticket = ticket_by_number(number=keys)
        if ticket is None:
            run.say("ticket-not-found")
            return None
        with translation.override(run.language):
            text = ticket_progress_text(ticket=ticket)
        state_prompt = {
            Ticket.State.CLOSED: "ticket-state-closed", Ticket.State.CANCELLED: "ticket-state-cancelled",
            Ticket.State.SUSPENDED: "ticket-state-suspended",
        }.get(ticket.state, "ticket-state-open")
        number = digits_piece(ticket.number, run.language)
        run.add(Piece(text=text, files=("ticket-your", *number.files, state_prompt)))
        call_id = self._call_id(run)
        if call_id is not None:
            call_ticket_link(call_id=call_id, ticket=ticket, relation=CallTicketRelation.ASKED, at=run.now)
        run.learn(ticket_number=ticket.number, self_served=True)
        return "after_service"

    def _act_payment_link_send(self, run: _Run) -> str:
        account = self._account(run)
        if account is None:
            return "account_entry"
        try:
            sent = payment_link_request(account=account, call_key=run.call_key, at=run.now)
        except CallerPhoneMissing:
            run.say("payment-link-no-phone")
            return "after_service"
        except NothingDue:
            run.say("payment-link-nothing-due")
            return "after_service"
        run.say("payment-link-sent")
        run.add(digits_piece(sent.phone_last_digits, run.language))
        run.learn(payment_link_sent=True, self_served=True)
        return "after_service"

