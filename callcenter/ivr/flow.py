"""The one IVR flow of the 95598 hotline, as data: its prompts (Mandarin and English text, one audio file each for
Asterisk, named after the prompt), its nodes (what each says, the keypad input it waits for, where each key goes)
and the actions the engine runs at action nodes (named here, written in engine.py).

Both transports (Asterisk AsyncAGI, Twilio webhooks) run this same flow through callcenter.ivr.engine.

The path: storm mode first (a caller whose number is on file for an account in an area with an outage on now
hears of it before anything else and may ask for an SMS when power is back), then the language, then the main
menu. Services needing an account take the one on file for the calling number (confirmed, or chosen among up to
three), else ask for it on the keypad (checked with the check digit). A key that leads nowhere, or no key, is
asked again once; after that the caller goes to an agent, with what they entered.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

# Prompt name -> (Mandarin, English). The name is the audio file's name (<lang>/<name>.wav) for Asterisk.
PROMPTS: dict[str, tuple[str, str]] = {
    "welcome": ("您好，欢迎致电国网九五五九八供电服务热线。", "Welcome to the State Grid 95598 power service hotline."),
    "storm-intro": ("您所在的区域正在停电。", "There is a power outage in your area."),
    "outage-kind-planned": ("这是计划检修停电。", "It is a planned maintenance outage."),
    "outage-kind-temporary": ("这是临时停电。", "It is a temporary outage."),
    "outage-kind-fault": ("这是故障停电，抢修人员正在处理。", "It is a fault outage; repair crews are working on it."),
    "outage-reason": ("停电原因：", "The cause is: "),
    "outage-expected-end": ("预计恢复送电时间：", "Power is expected back on "),
    # Instead of the expected end once it has passed and power is not back: that time is no promise any more.
    "outage-past-expected-end": (
        "原定的预计恢复送电时间已过，我们正在尽快恢复送电，请您耐心等待。",
        "The expected restoration time has passed. We are working to restore power as soon as possible.",
    ),
    "storm-menu": (
        "恢复送电后需要短信通知您，请按1；办理其他业务，请按2。",
        "To get a text message when power is back, press 1. For other services, press 2.",
    ),
    "storm-registered": (
        "已为您登记，恢复送电后我们将短信通知您。感谢您的来电，再见。",
        "You are registered. We will text you when power is back. Thank you for calling, goodbye.",
    ),
    "storm-register-failed": (
        "抱歉，您的号码无法接收短信，恢复送电后请留意公告。",
        "Sorry, your number cannot receive text messages. Please watch for our announcements.",
    ),
    # Said in both voices whatever the language so far: the Mandarin half, then the English half.
    "language-menu": ("普通话请按1。", "For English, press 2."),
    "main-menu": (
        "查询电费余额和账单请按1，查询所在区域停电信息请按2，故障报修请按3，查询工单进度请按4，"
        "短信获取缴费链接请按5，人工服务请按0。",
        "For your balance and latest bill, press 1. For outages in your area, press 2. To report a fault, "
        "press 3. For the progress of a ticket, press 4. To get a payment link by text message, press 5. "
        "To speak to an agent, press 0.",
    ),
    "account-ending": ("户号尾号", "For the account ending in "),
    "press": ("，请按", ", press "),
    "account-other": ("输入其他户号，请按9。", "To enter another account number, press 9."),
    "account-entry": ("请输入10位户号，以井号键结束。", "Please enter your 10-digit account number, then press hash."),
    "account-invalid": ("您输入的户号有误，请核对后重新输入。", "That account number is not valid. Please check it."),
    "account-not-found": ("没有找到该户号。", "We could not find that account number."),
    "arrears-amount": ("您的户号当前欠费", "Your account owes "),
    "arrears-none": ("您的户号目前没有欠费。", "Your account has nothing to pay."),
    "prepaid-amount": ("预存余额", "Your prepaid credit is "),
    "latest-bill": ("最近一期账单：", "Your latest bill is for "),
    "bill-kwh": ("，用电", ", using "),
    "bill-total": ("，电费", ", amount "),
    "bill-due": ("，缴费截止日", ", due on "),
    "latest-bill-none": ("您的户号暂无账单。", "There is no bill on your account yet."),
    "outage-upcoming-intro": ("您所在区域将有停电，停电时间", "An outage will affect your area from "),
    "outage-until": ("至", " until "),
    "outage-none": (
        "您所在区域目前没有已知停电。如家中停电，请返回主菜单按3报修。",
        "There is no known outage in your area. If you have no power, report a fault with 3 in the main menu.",
    ),
    "fault-confirm": (
        "将为您的户号报修停电故障，确认请按1，返回主菜单请按2。",
        "We will report a power fault for your account. To confirm, press 1. To go back, press 2.",
    ),
    "fault-filed": ("报修已受理，工单号", "Your fault report is accepted. The ticket number is "),
    "fault-known-outage": (
        "您所在区域的停电已在抢修中，无需另派抢修人员。",
        "The outage in your area is already being repaired; no extra crew is needed.",
    ),
    "fault-crew": ("我们正在安排抢修人员。", "We are sending a repair crew."),
    "ticket-entry": ("请输入11位工单号，以井号键结束。", "Please enter the 11-digit ticket number, then press hash."),
    "ticket-not-found": ("没有找到该工单。", "We could not find that ticket."),
    "ticket-your": ("您的工单", "Your ticket "),
    "ticket-state-closed": ("已办结。", "is completed."),
    "ticket-state-cancelled": ("已撤销。", "was cancelled."),
    "ticket-state-suspended": ("暂停办理，正在等待您的配合。", "is on hold, waiting for you."),
    "ticket-state-open": ("正在处理中。", "is in progress."),
    "payment-link-sent": ("缴费链接已发送至您登记的手机，尾号", "A payment link was sent to your phone ending in "),
    "payment-link-no-phone": (
        "该户号未登记手机号码，无法发送缴费链接。",
        "There is no mobile number on file for this account, so we cannot send a link.",
    ),
    "payment-link-nothing-due": ("该户号当前没有应缴电费。", "Your account has nothing to pay now."),
    "after-menu": (
        "返回主菜单请按1，人工服务请按0，结束请挂机。",
        "To go back to the main menu, press 1. To speak to an agent, press 0. Or hang up.",
    ),
    "no-input": ("没有收到您的按键。", "We did not get your choice."),
    "invalid-input": ("您的输入有误。", "That is not a valid choice."),
    "transfer": ("正在为您转接人工服务，请稍候。", "Please hold while we connect you to an agent."),
    "goodbye": ("感谢您的来电，再见。", "Thank you for calling. Goodbye."),
}

# What a node does when it is reached.
ACTION = "action"  # run an engine action, which says something and picks the next node
MENU = "menu"  # say a prompt, wait for one key, follow its route
COLLECT = "collect"  # say a prompt, wait for several keys ended by #, hand them to an engine action
TRANSFER = "transfer"  # say a prompt, leave the IVR for the agents' queue
HANGUP = "hangup"  # say a prompt, end the call

MAX_ATTEMPTS = 2  # asked once, then once again, then the caller goes to `on_exhausted`


@dataclass(frozen=True)
class Input:
    max_digits: int
    timeout_seconds: int
    finish_on_key: str = ""


@dataclass(frozen=True)
class Route:
    """Where a key leads, and what it tells the engine (merged into the call's learned data)."""

    to: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    prompt: str = ""  # the prompt said on entry (MENU/COLLECT: the question)
    say: str = ""  # MENU/COLLECT: an engine action saying what comes before the prompt (or the whole question)
    action: str = ""  # ACTION: the engine action run on entry; COLLECT: the one given the keys
    input: Input | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    on_exhausted: str = "agent"  # after MAX_ATTEMPTS without a usable key


_KEY = Input(max_digits=1, timeout_seconds=6)

NODES: dict[str, Node] = {
    node.name: node
    for node in (
        Node("start", ACTION, action="caller_lookup"),
        # Storm mode: the engine action says the outage, then this menu's prompt asks.
        Node("storm", MENU, prompt="storm-menu", input=_KEY, say="storm_notice", routes={
            "1": Route("storm_register"), "2": Route("language"),
        }),
        Node("storm_register", ACTION, action="restoration_register"),
        Node("language", MENU, say="language_menu", input=_KEY, routes={
            "1": Route("main_menu", {"language": "zh-hans"}), "2": Route("main_menu", {"language": "en"}),
        }),
        Node("main_menu", MENU, prompt="main-menu", input=_KEY, routes={
            "1": Route("need_account", {"intent": "balance"}),
            "2": Route("need_account", {"intent": "outage"}),
            "3": Route("need_account", {"intent": "fault_report"}),
            "4": Route("ticket_entry", {"intent": "ticket_progress"}),
            "5": Route("need_account", {"intent": "payment_link"}),
            "0": Route("agent", {"transfer_reason": "caller_asked"}),
        }),
        Node("need_account", ACTION, action="account_needed"),
        # The accounts on file for the calling number: 1..3 pick one, 9 keys another (engine-built question).
        Node("account_choice", COLLECT, input=_KEY, say="account_choice_say", action="account_choice_pick"),
        Node("account_entry", COLLECT, prompt="account-entry", action="account_number_check",
             input=Input(max_digits=10, timeout_seconds=10, finish_on_key="#")),
        Node("intent", ACTION, action="intent_dispatch"),
        Node("balance", ACTION, action="balance_say"),
        Node("outage", ACTION, action="outage_say"),
        Node("fault_confirm", MENU, prompt="fault-confirm", input=_KEY, routes={
            "1": Route("fault_file"), "2": Route("main_menu"),
        }),
        Node("fault_file", ACTION, action="fault_report_file"),
        Node("ticket_entry", COLLECT, prompt="ticket-entry", action="ticket_progress_say",
             input=Input(max_digits=11, timeout_seconds=12, finish_on_key="#")),
        Node("payment_link", ACTION, action="payment_link_send"),
        Node("after_service", MENU, prompt="after-menu", input=_KEY, on_exhausted="goodbye", routes={
            "1": Route("main_menu"), "0": Route("agent", {"transfer_reason": "caller_asked"}),
        }),
        Node("agent", TRANSFER, prompt="transfer"),
        Node("goodbye", HANGUP, prompt="goodbye"),
        # The caller was told all there is (e.g. registered for the restoration SMS, goodbye said): hang up.
        Node("end", HANGUP),
    )
}


# What each node is, in words, for the agent reading the caller's path on the screen-pop.
NODE_LABELS = {
    "start": _("来电"),
    "storm": _("停电告知"),
    "storm_register": _("登记复电短信"),
    "language": _("语言选择"),
    "main_menu": _("主菜单"),
    "need_account": _("需要户号"),
    "account_choice": _("选择户号"),
    "account_entry": _("输入户号"),
    "intent": _("办理业务"),
    "balance": _("查询电费"),
    "outage": _("查询停电"),
    "fault_confirm": _("确认报修"),
    "fault_file": _("故障报修"),
    "ticket_entry": _("查询工单进度"),
    "payment_link": _("发送缴费链接"),
    "after_service": _("服务后菜单"),
    "agent": _("转人工"),
    "goodbye": _("结束语"),
    "end": _("挂机"),
}

START = "start"
# The account-choice menu offers at most this many accounts on file (keys 1..3).
ACCOUNT_CHOICES = 3


def flow_check() -> list[str]:
    """Problems in the flow definition (routes to unknown nodes, unknown prompts): empty when it is sound."""
    problems = []
    for node in NODES.values():
        targets = [route.to for route in node.routes.values()] + [node.on_exhausted]
        problems += [f"{node.name}: route to unknown node {to}" for to in targets if to not in NODES]
        if node.prompt and node.prompt not in PROMPTS:
            problems.append(f"{node.name}: unknown prompt {node.prompt}")
        if node.kind in (MENU, COLLECT) and node.input is None:
            problems.append(f"{node.name}: waits for keys but has no input")
    return problems
