"""Field cleaning (step_data_clean), transition conditions, and every registered check against real master data."""
import datetime
from decimal import Decimal

import pytest

from core.models import Bill, StepDefinition, Ticket
from core.workflows import condition_matches
from core.workflows.checks import CHECKS, CheckContext, checks_run
from core.workflows.fields import step_data_clean
from tests.factories import AccountFactory, residential_tiered_tariff
from tests.ticket_factories import local, meter_with_reading

NOW = local(2026, 11, 23, 10)


def test_the_registry_holds_exactly_the_contracted_checks():
    assert sorted(CHECKS) == sorted([
        "end_after_start", "restored_after_arrival", "capacity_above_current", "capacity_below_current",
        "reading_not_below_previous", "account_without_arrears", "account_arrears_over_30_days",
        "notice_at_least_7_days", "new_name_differs", "new_tariff_differs", "contact_within_24h",
    ])


# --- fields -------------------------------------------------------------------------------------------------

FIELDS = [
    {"name": "note", "label": "说明", "type": "text", "required": False, "max_length": 5},
    {"name": "count", "label": "数量", "type": "integer", "required": True, "min": 1, "max": 10},
    {"name": "kva", "label": "容量", "type": "decimal", "required": True, "min": 0},
    {"name": "on", "label": "日期", "type": "date", "required": False},
    {"name": "at", "label": "时间", "type": "datetime", "required": False},
    {"name": "kind", "label": "类别", "type": "choice", "required": False, "choices": [["a", "甲"], ["b", "乙"]]},
    {"name": "phone", "label": "电话", "type": "phone", "required": False},
    {"name": "agreed", "label": "已确认", "type": "boolean", "required": True},
    {"name": "photo", "label": "有照片", "type": "boolean", "required": False},
    {"name": "details", "label": "详情", "type": "textarea", "required": False},
]


def test_clean_values_are_json_safe_and_undeclared_keys_dropped():
    cleaned, errors = step_data_clean(fields=FIELDS, raw={
        "note": " 好 ", "count": "3", "kva": "315.50", "on": "2026-11-23", "at": "2026-11-23T10:30",
        "kind": "b", "phone": "+86 138 0013 8000", "agreed": "on", "details": "", "extra": "ignored",
    })

    assert errors == {}
    assert cleaned == {
        "note": "好", "count": 3, "kva": "315.50", "on": "2026-11-23", "at": "2026-11-23T10:30:00+08:00",
        "kind": "b", "phone": "13800138000", "agreed": True,
    }


def test_every_problem_is_reported_per_field():
    cleaned, errors = step_data_clean(fields=FIELDS, raw={
        "note": "太长的说明文字", "count": "11", "kva": "abc", "on": "2026-13-01", "at": "yesterday",
        "kind": "c", "phone": "12345", "agreed": "", "photo": "perhaps",
    })

    assert errors == {
        "note": ["不能超过5个字符"], "count": ["不能大于10"], "kva": ["请输入数字"], "on": ["请输入有效的日期（年-月-日）"],
        "at": ["请输入有效的日期时间"], "kind": ["请选择有效的选项"], "phone": ["请输入有效的电话号码"],
        "agreed": ["请确认此项"], "photo": ["请选择是或否"],
    }
    assert cleaned == {}


def test_required_fields_missing_and_bounds():
    _, errors = step_data_clean(fields=FIELDS, raw={"count": "0", "agreed": True})
    assert errors == {"count": ["不能小于1"], "kva": ["此项为必填项"]}
    _, errors = step_data_clean(fields=FIELDS, raw={"count": 2.5, "kva": 1.5, "agreed": True})
    assert errors == {"count": ["请输入整数"], "kva": ["请输入数字"]}  # floats never carry quantities


# --- conditions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "data", "expected"), [
    ({}, {}, True),
    ({"field": "x", "op": "eq", "value": 5}, {"x": "5.0"}, True),
    ({"field": "x", "op": "ne", "value": "a"}, {"x": "b"}, True),
    ({"field": "x", "op": "ne", "value": "a"}, {}, True),
    ({"field": "x", "op": "in", "value": ["a", "b"]}, {"x": "b"}, True),
    ({"field": "x", "op": "in", "value": ["a", "b"]}, {"x": "c"}, False),
    ({"field": "x", "op": "gt", "value": 315}, {"x": "400.00"}, True),
    ({"field": "x", "op": "gte", "value": 315}, {"x": "315"}, True),
    ({"field": "x", "op": "lt", "value": "100"}, {"x": "99.99"}, True),
    ({"field": "x", "op": "lte", "value": 100}, {"x": "100.01"}, False),
    ({"field": "x", "op": "gt", "value": 1}, {}, False),
    ({"field": "x", "op": "truthy"}, {"x": True}, True),
    ({"field": "x", "op": "truthy"}, {"x": False}, False),
    ({"field": "x", "op": "truthy", "value": False}, {}, True),
    ({"field": "d", "op": "lt", "value": "2026-12-01"}, {"d": "2026-11-23"}, True),
])
def test_conditions(condition, data, expected):
    assert condition_matches(condition=condition, data=data) is expected


def test_an_unknown_op_is_an_error():
    with pytest.raises(ValueError):
        condition_matches(condition={"field": "x", "op": "like", "value": 1}, data={"x": 1})


# --- checks against master data -----------------------------------------------------------------------------


def context(data, *, account=None, opened_at=NOW):
    ticket = Ticket(number="26112300001", opened_at=opened_at, account=account,
                    customer=account.customer if account else None)
    return CheckContext(ticket=ticket, step_definition=StepDefinition(code="x"), data=data, now=NOW)


def run(name, data, **kwargs):
    return CHECKS[name](context(data, **kwargs))


def test_horizontal_checks():
    assert run("end_after_start", {"start_at": "2026-11-23T10:00:00+08:00", "end_at": "2026-11-23T10:00:00+08:00"}) \
        == [("end_at", "结束时间必须晚于开始时间")]
    assert run("end_after_start", {"start_at": "2026-11-23T10:00:00+08:00", "end_at": "2026-11-23T11:00:00+08:00"}) \
        == []
    assert run("end_after_start", {"start_at": "2026-11-23T10:00:00+08:00"}) == []
    assert run("restored_after_arrival", {"arrived_at": "2026-11-23T10:40:00+08:00",
                                          "restored_at": "2026-11-23T10:30:00+08:00"}) \
        == [("restored_at", "恢复送电时间不能早于到达现场时间")]
    assert run("restored_after_arrival", {"arrived_at": "2026-11-23T10:40:00+08:00",
                                          "restored_at": "2026-11-23T12:30:00+08:00"}) == []
    assert run("notice_at_least_7_days", {"notice_served_on": "2026-11-23", "disconnect_on": "2026-11-29"}) \
        == [("disconnect_on", "停电日期须在送达停电通知后至少7天")]
    assert run("notice_at_least_7_days", {"notice_served_on": "2026-11-23", "disconnect_on": "2026-11-30"}) == []
    assert run("contact_within_24h", {"contacted_at": "2026-11-24T10:01:00+08:00"}) \
        == [("contacted_at", "须在受理后24小时内联系客户")]
    assert run("contact_within_24h", {"contacted_at": "2026-11-23T09:00:00+08:00"}) \
        == [("contacted_at", "联系客户时间不能早于受理时间")]
    assert run("contact_within_24h", {"contacted_at": "2026-11-24T10:00:00+08:00"}) == []


@pytest.mark.django_db
def test_capacity_checks_compare_with_the_contracted_capacity():
    account = AccountFactory(contracted_capacity_kva=Decimal("100.00"))

    assert run("capacity_above_current", {"new_capacity_kva": "100"}, account=account) \
        == [("new_capacity_kva", "增容后容量须大于现有合同容量100.00 kVA")]
    assert run("capacity_above_current", {"new_capacity_kva": "160"}, account=account) == []
    assert run("capacity_below_current", {"new_capacity_kva": "160"}, account=account) \
        == [("new_capacity_kva", "减容后容量须小于现有合同容量100.00 kVA")]
    assert run("capacity_below_current", {"new_capacity_kva": "0"}, account=account) \
        == [("new_capacity_kva", "减容后容量须大于0")]
    assert run("capacity_below_current", {"new_capacity_kva": "50"}, account=account) == []
    assert run("capacity_above_current", {"new_capacity_kva": "160"}) == [("__all__", "工单未关联户号，无法核对户档案")]


@pytest.mark.django_db
def test_reading_check_uses_the_last_valid_reading_or_the_install_reading():
    account = AccountFactory()
    meter = meter_with_reading(account, "1200.00")
    meter.readings.create(account=account, read_on=datetime.date(2026, 11, 20), period=datetime.date(2026, 11, 1),
                          total=Decimal("9999.00"), status="suspect")

    assert run("reading_not_below_previous", {"final_reading": "1199.99"}, account=account) \
        == [("final_reading", "本次示数1199.99小于上次有效示数1200.00")]
    assert run("reading_not_below_previous", {"final_reading": "1200"}, account=account) == []
    fresh = AccountFactory()
    meter_with_reading(fresh, "5").readings.all().delete()
    assert run("reading_not_below_previous", {"final_reading": "0"}, account=fresh) == []
    bare = AccountFactory()
    assert run("reading_not_below_previous", {"final_reading": "1"}, account=bare) \
        == [("__all__", "该户没有在用电能表，无法核对示数")]


def bill(account, *, due_date, total="100.00", paid="0.00", period=datetime.date(2026, 8, 1)):
    version = residential_tiered_tariff().versions.first()
    return Bill.objects.create(
        number=f"B{account.pk}{period:%Y%m}", account=account, period=period, tariff_version=version,
        issued_on=due_date - datetime.timedelta(days=20), due_date=due_date, kwh=Decimal("150"),
        total=Decimal(total), amount_paid=Decimal(paid),
    )


@pytest.mark.django_db
def test_arrears_checks_read_the_balance_and_the_bills():
    account = AccountFactory(balance=Decimal("88.50"))

    assert run("account_without_arrears", {}, account=account) == [("__all__", "该户尚欠电费¥88.50，请先结清")]
    account.balance = Decimal("-10.00")
    account.save()
    assert run("account_without_arrears", {}, account=account) == []

    assert run("account_arrears_over_30_days", {}, account=account) \
        == [("__all__", "该户没有逾期超过30天的欠费，不能停电")]
    bill(account, due_date=datetime.date(2026, 10, 24))  # 30 days overdue on 23 Nov: not yet more than 30
    assert run("account_arrears_over_30_days", {}, account=account) != []
    bill(account, due_date=datetime.date(2026, 10, 22), paid="100.00", period=datetime.date(2026, 7, 1))
    assert run("account_arrears_over_30_days", {}, account=account) != []
    bill(account, due_date=datetime.date(2026, 10, 23), paid="40.00", period=datetime.date(2026, 6, 1))
    assert run("account_arrears_over_30_days", {}, account=account) == []


@pytest.mark.django_db
def test_name_and_tariff_changes_must_change_something():
    account = AccountFactory(customer__name="张三", category="residential")

    assert run("new_name_differs", {"new_name": " 张三 "}, account=account) == [("new_name", "新户名与现户名相同")]
    assert run("new_name_differs", {"new_name": "李四"}, account=account) == []
    assert run("new_tariff_differs", {"new_category": "residential"}, account=account) \
        == [("new_category", "新用电类别与现用电类别相同")]
    assert run("new_tariff_differs", {"new_category": "non_residential"}, account=account) == []


def test_checks_run_collects_messages_per_field():
    ctx = context({"start_at": "2026-11-23T10:00:00+08:00", "end_at": "2026-11-23T09:00:00+08:00",
                   "contacted_at": "2026-11-25T10:00:00+08:00"})

    assert checks_run(names=["end_after_start", "contact_within_24h"], ctx=ctx) == {
        "end_at": ["结束时间必须晚于开始时间"], "contacted_at": ["须在受理后24小时内联系客户"],
    }
