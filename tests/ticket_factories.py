"""A small sample process and the staff who work it, shared by the ticket tests of every helper.

`sample_process()` builds (and activates, as a new version) a 4-step process:

    accept (agent, 1 working day) --needs_survey truthy--> survey (surveyor, 120 min; rural 240, remote 360)
      \\------------------------------otherwise-------------> archive (counter_clerk, 2 working days)
    survey --> archive ; survey --return--> accept
    archive --> follow_up (agent, LOW priority, auto-skip, 1 working day) ; archive --return--> survey
    follow_up --> end (the ticket closes; a "satisfaction" it records is kept)

`staff_user(post_code, branch)` makes a user holding a post; `supervisor_user()` one with core.change_ticketstep.
"""
from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Max

from tests.factories import MeterFactory

from core.models import (
    Account,
    Branch,
    BusinessType,
    LimitKind,
    Meter,
    MeterReading,
    Post,
    ProcessDefinition,
    StaffAssignment,
    StepDefinition,
    StepPriority,
    TransitionDefinition,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEST_BUSINESS_TYPE = BusinessType.METER_ACCURACY_CHECK
POST_NAMES = {
    "agent": "95598坐席",
    "surveyor": "勘查员",
    "counter_clerk": "营业厅受理员",
    "supervisor": "班长",
    "dispatcher": "抢修指挥员",
    "archivist": "资料管理员",
    "repair_crew": "抢修班",
    "meter_fitter": "装表员",
    "account_manager": "客户经理",
}
_usernames = itertools.count(1)


def local(year, month, day, hour=0, minute=0) -> datetime.datetime:
    """A moment in Shanghai time (Monday 2026-11-23 is an ordinary working day)."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def post(code: str) -> Post:
    found, _ = Post.objects.get_or_create(code=code, defaults={"name": POST_NAMES.get(code, code)})
    return found


@dataclass
class SampleProcess:
    definition: ProcessDefinition
    accept: StepDefinition
    survey: StepDefinition
    archive: StepDefinition
    follow_up: StepDefinition


ACCEPT_FIELDS = [
    {"name": "needs_survey", "label": "需要现场勘查", "label_en": "Site survey needed", "type": "boolean",
     "required": False},
    {"name": "category", "label": "异常类别", "label_en": "Category", "type": "choice", "required": True,
     "choices": [["fast", "走快"], ["slow", "走慢"], ["stopped", "停走"]]},
]
SURVEY_FIELDS = [
    {"name": "start_at", "label": "开始时间", "label_en": "Started", "type": "datetime", "required": True},
    {"name": "end_at", "label": "结束时间", "label_en": "Finished", "type": "datetime", "required": True},
    {"name": "error_percent", "label": "误差(%)", "label_en": "Error (%)", "type": "decimal", "required": True,
     "min": -100, "max": 100},
    {"name": "final_reading", "label": "现场示数", "label_en": "Reading on site", "type": "decimal",
     "required": False},
]
ARCHIVE_FIELDS = [
    {"name": "archived", "label": "资料已归档", "label_en": "Records filed", "type": "boolean", "required": True},
]
FOLLOW_UP_FIELDS = [
    {"name": "satisfaction", "label": "满意度", "label_en": "Satisfaction", "type": "integer", "required": False,
     "min": 1, "max": 5},
]


def sample_process(
    *, business_type: str = TEST_BUSINESS_TYPE, allows_anonymous: bool = False, requires_account: bool = False,
    survey_checks: list[str] | None = None, commitment_days: int = 5,
) -> SampleProcess:
    """A new active version of the test process for `business_type` (earlier versions are deactivated)."""
    latest = ProcessDefinition.objects.filter(business_type=business_type).aggregate(v=Max("version"))["v"] or 0
    ProcessDefinition.objects.filter(business_type=business_type, active=True).update(active=False)
    definition = ProcessDefinition.objects.create(
        business_type=business_type, version=latest + 1, name=f"测试流程v{latest + 1}", active=True,
        commitment_kind=LimitKind.WORKING_DAYS, commitment_value=commitment_days,
        allows_anonymous=allows_anonymous, requires_account=requires_account,
    )
    accept = StepDefinition.objects.create(
        definition=definition, code="accept", name="受理", name_en="Acceptance", order=1, post=post("agent"),
        customer_text="您的诉求已受理", customer_text_en="Your request has been accepted",
        limit_kind=LimitKind.WORKING_DAYS, limit_value=1, fields=ACCEPT_FIELDS,
    )
    survey = StepDefinition.objects.create(
        definition=definition, code="survey", name="现场勘查", name_en="Site survey", order=2, post=post("surveyor"),
        customer_text="工作人员正在现场检测", customer_text_en="Our staff are testing on site",
        limit_kind=LimitKind.CALENDAR_MINUTES, limit_value=120, limit_by_area={"rural": 240, "remote": 360},
        priority=StepPriority.ESSENTIAL, fields=SURVEY_FIELDS,
        checks=survey_checks if survey_checks is not None else ["end_after_start"],
    )
    archive = StepDefinition.objects.create(
        definition=definition, code="archive", name="资料归档", name_en="Filing", order=3,
        post=post("counter_clerk"), limit_kind=LimitKind.WORKING_DAYS, limit_value=2, fields=ARCHIVE_FIELDS,
    )
    follow_up = StepDefinition.objects.create(
        definition=definition, code="follow_up", name="回访", name_en="Follow-up call", order=4, post=post("agent"),
        limit_kind=LimitKind.WORKING_DAYS, limit_value=1, priority=StepPriority.LOW, auto_skip_when_overdue=True,
        fields=FOLLOW_UP_FIELDS,
    )
    forward, back = TransitionDefinition.Kind.FORWARD, TransitionDefinition.Kind.RETURN
    TransitionDefinition.objects.create(
        definition=definition, from_step=accept, to_step=survey, order=1,
        condition={"field": "needs_survey", "op": "truthy"}, label="需要勘查",
    )
    TransitionDefinition.objects.create(definition=definition, from_step=accept, to_step=archive, order=2)
    TransitionDefinition.objects.create(definition=definition, from_step=survey, to_step=archive, order=1)
    TransitionDefinition.objects.create(definition=definition, from_step=survey, to_step=accept, kind=back, order=2)
    TransitionDefinition.objects.create(definition=definition, from_step=archive, to_step=follow_up, order=1)
    TransitionDefinition.objects.create(definition=definition, from_step=archive, to_step=survey, kind=back, order=2)
    TransitionDefinition.objects.create(definition=definition, from_step=follow_up, to_step=None, order=1)
    return SampleProcess(definition, accept, survey, archive, follow_up)


def staff_user(post_code: str, branch: Branch | None = None, *, username: str | None = None, **extra):
    """An active staff user holding `post_code` in `branch` (None: every branch)."""
    user = get_user_model().objects.create_user(
        username=username or f"staff{next(_usernames)}", password="x", is_staff=True, **extra
    )
    StaffAssignment.objects.create(user=user, post=post(post_code), branch=branch)
    return user


def supervisor_user(branch: Branch | None = None, *, username: str | None = None):
    """A supervisor (班长): holds the supervisor post and may assign, skip and cancel (core.change_ticketstep)."""
    user = staff_user("supervisor", branch, username=username)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="core", codename="change_ticketstep"))
    return get_user_model().objects.get(pk=user.pk)


def meter_with_reading(account: Account, total: str, *, read_on=datetime.date(2026, 10, 31)) -> Meter:
    """An installed meter on the account with one valid reading of `total`."""
    meter = MeterFactory(service_point__account=account)
    MeterReading.objects.create(
        meter=meter, account=account, read_on=read_on, period=read_on.replace(day=1), total=Decimal(total)
    )
    return meter
