"""The personal-data access log: every staff page that shows a customer's personal data in full leaves one row per
customer per opening (ticket page, counter pages, quality lists, notification failures, admin forms and lists), and
the auditors' viewer at /staff/audit/personal-data/ (filters, pages, charts, the unusual-volume flag, CSV)."""
import csv
import datetime
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.utils import timezone

from core.models import (
    AuditRule,
    BusinessType,
    Call,
    Channel,
    Outage,
    OutageKind,
    PersonalDataAccess,
    RestorationCallback,
    Ticket,
)
from core.services.counter import counter_payment_take
from core.services.personal_data import PersonalDataRefused, PersonalDataShown, personal_data_access_record
from core.services.roles import ROLE_AGENT, ROLE_SUPERVISOR, role_group
from core.services.tickets import ticket_open
from notifications.models import Message
from tests import ticket_factories
from tests.callcenter.factories import finished_call
from tests.core.counter_factories import counter_world
from tests.core.quality_factories import quality_user
from tests.core.test_quality_pages import flag_create
from tests.factories import AccountFactory, BranchFactory, CustomerFactory, ServiceStationFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db
AUDIT = "/staff/audit/personal-data/"
EXPORT = f"{AUDIT}export.csv"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff_member(username: str, *perms: str):
    user = get_user_model().objects.create_user(username=username, password="x", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="core"))
    return get_user_model().objects.get(pk=user.pk)


def trail() -> list[tuple]:
    """Every access row as (staff, customer id, account id, fields, context), oldest first."""
    return [
        (row.staff.username, row.customer_id, row.account_id, row.fields, row.context)
        for row in PersonalDataAccess.objects.select_related("staff").order_by("id")
    ]


def noon(days_ago: int) -> datetime.datetime:
    """Local noon, `days_ago` days before today."""
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def access(staff, customer, *, at, account=None, fields=("phone",), context="call:1") -> PersonalDataAccess:
    return PersonalDataAccess.objects.create(staff=staff, customer=customer, account=account, fields=list(fields),
                                             context=context, at=at)


# --- the recording service ----------------------------------------------------------------------------------------


def test_one_row_per_customer_and_account_with_the_fields_merged_in_a_fixed_order():
    staff = staff_member("clerk")
    first, second = AccountFactory(), AccountFactory()
    at = timezone.now()

    written = personal_data_access_record(staff=staff, context="counter:search", at=at, shown=[
        PersonalDataShown(customer_id=first.customer_id, account_id=first.pk, fields=("address",)),
        PersonalDataShown(customer_id=second.customer_id, account_id=second.pk, fields=("account_name", "address")),
        PersonalDataShown(customer_id=first.customer_id, account_id=first.pk, fields=("account_name", "address")),
    ])

    assert written == 2
    assert trail() == [
        ("clerk", first.customer_id, first.pk, ["account_name", "address"], "counter:search"),
        ("clerk", second.customer_id, second.pk, ["account_name", "address"], "counter:search"),
    ]
    assert set(PersonalDataAccess.objects.values_list("at", flat=True)) == {at}


@pytest.mark.parametrize(("fields", "context", "message"), [
    (("id_number",), "ticket:1", "不能查看的信息：id_number"),
    (("phone",), "", "查看场景无效"),
    (("phone",), "x" * 81, "查看场景无效"),
])
def test_bad_records_are_refused_and_nothing_is_written(fields, context, message):
    account = AccountFactory()
    with pytest.raises(PersonalDataRefused) as refused:
        personal_data_access_record(staff=staff_member("clerk"), context=context, shown=[
            PersonalDataShown(customer_id=account.customer_id, account_id=None, fields=("name",)),
            PersonalDataShown(customer_id=account.customer_id, account_id=account.pk, fields=fields),
        ])
    assert str(refused.value) == message
    assert not PersonalDataAccess.objects.exists()


def test_a_page_that_shows_nobody_writes_nothing_and_queries_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert personal_data_access_record(staff=None, shown=[], context="counter:search") == 0


# --- every staff page that shows personal data in full --------------------------------------------------------


def test_each_opening_of_a_ticket_page_is_logged_once():
    branch = BranchFactory(name="恩施市")
    ticket_factories.sample_process()
    account = AccountFactory(station=ServiceStationFactory(branch=branch), name="王小明", address="恩施市舞阳坝街道1号")
    agent = ticket_factories.staff_user("agent", branch, username="agent1")
    agent.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="core"))
    ticket = ticket_open(
        business_type=ticket_factories.TEST_BUSINESS_TYPE, channel=Channel.AGENT, summary="电能表走得太快",
        account=account, contact_phone="13800000001", opened_by=agent,
    )
    client = signed_in(agent)

    for _ in range(2):
        page = client.get(f"/staff/tickets/{ticket.number}/")
        assert page.status_code == 200 and "恩施市舞阳坝街道1号" in page.content.decode()

    row = ("agent1", account.customer_id, account.pk, ["name", "account_name", "address", "contact_phone"],
           f"ticket:{ticket.number}")
    assert trail() == [row, row]


def test_a_ticket_of_nobody_known_leaves_no_row_and_a_refused_opening_none_either():
    branch = BranchFactory(name="恩施市")
    ticket_factories.sample_process()
    agent = ticket_factories.staff_user("agent", branch, username="agent1")
    agent.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="core"))
    ticket = ticket_open(
        business_type=ticket_factories.TEST_BUSINESS_TYPE, channel=Channel.AGENT, summary="路灯不亮",
        contact_phone="13800000001", branch=branch, opened_by=agent,
    )
    assert signed_in(agent).get(f"/staff/tickets/{ticket.number}/").status_code == 200
    other = ticket_factories.staff_user("agent", BranchFactory(name="利川市"), username="agent2")
    assert signed_in(other).get(f"/staff/tickets/{ticket.number}/").status_code == 403
    assert trail() == []


@pytest.fixture
def counter():
    world = counter_world()
    customer = CustomerFactory(name="王小明", phone="13912345678")
    account = AccountFactory(customer=customer, name="王小明", address="利川市都亭街道9号",
                             station=ServiceStationFactory(branch=world.lichuan))
    return world, account


def test_counter_pages_log_the_accounts_they_show(counter):
    world, account = counter
    neighbour = AccountFactory(customer=CustomerFactory(name="王小红"), name="王小红",
                               station=ServiceStationFactory(branch=world.enshi))
    client = signed_in(world.cashier)
    shown = ["account_name", "address"]

    assert client.get("/staff/counter/", {"q": "王小"}).status_code == 200
    assert client.get("/staff/counter/").status_code == 200  # the empty search form shows nobody
    assert client.get(f"/staff/counter/accounts/{account.number}/pay/").status_code == 200
    summary = client.post(f"/staff/counter/accounts/{account.number}/pay/",
                          {"amount": "50.00", "method": "cash", "slip_reference": ""})
    assert summary.status_code == 200 and "利川市都亭街道9号" in summary.content.decode()
    receipt = counter_payment_take(cashier=world.cashier, account=account, amount="50.00", method="cash",
                                   slip_reference="", idempotency_key="k1").receipt
    assert client.get(f"/staff/counter/receipts/{receipt.number}/").status_code == 200
    assert client.get(f"/staff/counter/receipts/{receipt.number}/receipt.pdf").status_code == 200
    assert client.get("/staff/counter/day/").status_code == 200

    mine, theirs = (account.customer_id, account.pk), (neighbour.customer_id, neighbour.pk)
    today = timezone.localdate().isoformat()
    rows = trail()
    assert sorted(rows[:2]) == sorted([("cashier1", *mine, shown, "counter:search"),
                                       ("cashier1", *theirs, shown, "counter:search")])
    assert rows[2:] == [
        ("cashier1", *mine, shown, "counter:pay"),
        ("cashier1", *mine, shown, "counter:pay"),
        ("cashier1", *mine, shown, f"counter:receipt:{receipt.number}"),
        ("cashier1", *mine, shown, f"counter:receipt:{receipt.number}"),
        ("cashier1", *mine, ["account_name"], f"counter:day:{today}"),
    ]


def test_the_quality_lists_log_the_names_they_show():
    auditor = quality_user(username="auditor1")
    flagged = flag_create(AuditRule.PAYMENT_REVERSED)
    branch = BranchFactory(name="恩施市")
    definition = ticket_factories.sample_process(business_type=BusinessType.COMPLAINT).definition
    customer = CustomerFactory(name="向女士")
    Ticket.objects.create(
        number="261003000001", definition=definition, business_type=BusinessType.COMPLAINT, channel="portal",
        branch=branch, customer=customer, summary="抄表员态度差", opened_at=local(2026, 10, 3, 9),
    )
    Ticket.objects.create(
        number="261004000001", definition=definition, business_type=BusinessType.COMPLAINT, channel="portal",
        branch=branch, anonymous=True, summary="匿名举报", opened_at=local(2026, 10, 4, 9),
    )
    client = signed_in(auditor)

    assert client.get("/staff/reports/quality/audit/").status_code == 200
    assert client.get("/staff/reports/quality/audit/export.csv").status_code == 200
    listed = client.get("/staff/reports/quality/complaints/list/", {"month": "2026-10"})
    assert listed.status_code == 200 and "向女士" in listed.content.decode()

    flag_row = (flagged.account.customer_id, flagged.account_id, ["account_name"])
    assert trail() == [
        ("auditor1", *flag_row, "quality:audit"),
        ("auditor1", *flag_row, "quality:audit:csv"),
        ("auditor1", customer.pk, None, ["name"], "quality:complaints"),
    ]


def test_the_complaint_report_masks_repeat_complainers_names_and_so_logs_nobody():
    branch = BranchFactory(name="恩施市")
    definition = ticket_factories.sample_process(business_type=BusinessType.COMPLAINT).definition
    customer = CustomerFactory(name="向女士", phone="13800001234")
    for day in (3, 9):
        Ticket.objects.create(
            number=f"2610{day:02d}000001", definition=definition, business_type=BusinessType.COMPLAINT,
            channel="portal", branch=branch, customer=customer, summary="抄表员态度差", opened_at=local(2026, 10, day, 9),
        )
    client = signed_in(quality_user(username="auditor1"))

    page = client.get("/staff/reports/quality/complaints/", {"month": "2026-10"}).content.decode()
    exported = client.get("/staff/reports/quality/complaints/export.csv", {"month": "2026-10"}).content.decode()

    assert "向**" in page and "138****1234" in page and "向女士" not in page
    assert "向**" in exported and "向女士" not in exported
    assert trail() == []


def test_the_notification_failures_page_logs_the_customers_addresses_it_shows():
    customer = CustomerFactory(phone="13700000007", email="li@example.com")
    for key, channel, to in (("a", "sms", customer.phone), ("b", "email", customer.email)):
        Message.objects.create(channel=channel, event="payment_received", recipient_customer=customer, to=to,
                               language="zh-hans", body="缴费到账", idempotency_key=key, state="failed")
    Message.objects.create(channel="sms", event="payment_received", to="13600000000", language="zh-hans",
                           body="缴费到账", idempotency_key="guest", state="dead")
    staff = get_user_model().objects.create_user("notifier", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="resend_message"))

    assert signed_in(staff).get("/staff/notifications/").status_code == 200

    assert trail() == [("notifier", customer.pk, None, ["phone", "email"], "notifications:failures")]


def test_admin_customer_and_account_pages_log_what_they_show():
    root = get_user_model().objects.create_superuser(username="root", password="pw", email="root@example.com")
    account = AccountFactory(customer=CustomerFactory(name="张三丰", phone="13812345678"), name="张三丰")
    client = signed_in(root)

    assert client.get(f"/django-admin/core/customer/{account.customer_id}/change/").status_code == 200
    assert client.get("/django-admin/core/customer/").status_code == 200
    assert client.get(f"/django-admin/core/account/{account.pk}/change/").status_code == 200
    assert client.get("/django-admin/core/account/").status_code == 200
    assert client.get("/django-admin/core/customer/999999/change/").status_code == 302  # no such customer: none

    customer_id = account.customer_id
    assert trail() == [
        ("root", customer_id, None, ["name", "phone", "email"], f"admin:customer:{customer_id}"),
        ("root", customer_id, None, ["name", "phone"], "admin:customer:list"),
        ("root", customer_id, account.pk, ["account_name", "address"], f"admin:account:{account.pk}"),
        ("root", customer_id, account.pk, ["name", "account_name"], "admin:account:list"),
    ]


def test_admin_ticket_call_and_callback_pages_log_the_customer_behind_them():
    root = get_user_model().objects.create_superuser(username="root", password="pw", email="root@example.com")
    account = AccountFactory(name="张三丰", address="恩施市舞阳坝街道1号")
    ticket_factories.sample_process()
    ticket = ticket_open(business_type=ticket_factories.TEST_BUSINESS_TYPE, channel=Channel.AGENT, summary="表计异常",
                         account=account, contact_name="张先生", contact_phone="13800000001")
    call = finished_call(started_at=timezone.now(), caller_number="13800000001")
    Call.objects.filter(pk=call.pk).update(account=account)
    unknown = finished_call(started_at=timezone.now(), caller_number="13900000009")  # nobody identified: no row
    now = timezone.now()
    outage = Outage.objects.create(branch=account.branch, kind=OutageKind.TEMPORARY, title="临时检修", reason="消缺",
                                   starts_at=now, ends_at=now + datetime.timedelta(hours=2), announced_at=now)
    callback = RestorationCallback.objects.create(outage=outage, phone="13800000001", account=account, requested_at=now)
    client = signed_in(root)

    for url in (f"/django-admin/core/ticket/{ticket.pk}/change/", "/django-admin/core/ticket/",
                f"/django-admin/core/call/{call.pk}/change/", f"/django-admin/core/call/{unknown.pk}/change/",
                "/django-admin/core/call/", f"/django-admin/core/restorationcallback/{callback.pk}/change/"):
        assert client.get(url).status_code == 200, url

    holder = (account.customer_id, account.pk)
    assert trail() == [
        ("root", *holder, ["name", "account_name", "address", "contact_name", "contact_phone"],
         f"admin:ticket:{ticket.pk}"),
        ("root", *holder, ["phone"], f"admin:call:{call.pk}"),
        ("root", *holder, ["phone"], "admin:call:list"),
        ("root", *holder, ["phone", "account_name"], f"admin:restorationcallback:{callback.pk}"),
    ]


# --- the auditors' viewer ---------------------------------------------------------------------------------------


@pytest.fixture
def log():
    """Two agents' openings over three local days, and one 40 days ago (outside the default window)."""
    today = timezone.localdate()
    agent = staff_member("agent-wang")
    clerk = staff_member("clerk-li")
    accounts = [AccountFactory(customer=CustomerFactory(name=name)) for name in ("张三丰", "李四", "王五")]
    for account in accounts:
        access(agent, account.customer, account=account, at=noon(0), context="call:7")
    access(agent, accounts[0].customer, at=noon(1), fields=("name",), context="ticket:T1")
    access(clerk, accounts[1].customer, account=accounts[1], at=noon(1), fields=("account_name", "address"),
           context="counter:search")
    access(clerk, accounts[2].customer, at=noon(40), context="call:3")
    return {"agent": agent, "clerk": clerk, "accounts": accounts, "today": today}


def test_only_staff_with_the_log_permission_see_it_and_the_nav_links_there():
    anonymous = Client().get(AUDIT)
    assert (anonymous.status_code, anonymous["Location"]) == (302, f"/accounts/login/?next={AUDIT}")
    agent = staff_member("agent1")
    agent.groups.add(role_group(code=ROLE_AGENT))
    assert signed_in(agent).get(AUDIT).status_code == 403
    assert signed_in(agent).get(EXPORT).status_code == 403
    assert "个人信息查看记录" not in signed_in(agent).get("/staff/queue/").content.decode()
    customer = get_user_model().objects.create_user("customer", password="x")
    customer.user_permissions.add(Permission.objects.get(codename="view_personaldataaccess"))
    assert signed_in(customer).get(AUDIT).status_code == 403

    for role_user in (quality_user(), quality_user(ROLE_SUPERVISOR)):
        page = signed_in(role_user).get(AUDIT)
        assert page.status_code == 200
        assert f'<a href="{AUDIT}">个人信息查看记录</a>' in page.content.decode()


def test_the_default_page_is_the_last_30_days_newest_first_with_names_masked(log, django_assert_max_num_queries):
    client = signed_in(quality_user(username="auditor1"))

    with django_assert_max_num_queries(12):
        response = client.get(AUDIT)

    rows = response.context["rows"]
    assert [(row.username, row.customer_masked, row.context) for row in rows] == [
        ("agent-wang", "王*", "坐席来电弹屏（call:7）"),
        ("agent-wang", "李*", "坐席来电弹屏（call:7）"),
        ("agent-wang", "张**", "坐席来电弹屏（call:7）"),
        ("clerk-li", "李*", "营业厅收费（counter:search）"),
        ("agent-wang", "张**", "工单详情（ticket:T1）"),
    ]
    assert rows[3].fields == "户名、用电地址" and rows[3].account_number == log["accounts"][1].number
    page = response.content.decode()
    assert "张三丰" not in page and "共 5 条" in page
    first = (log["today"] - datetime.timedelta(days=29)).isoformat()
    assert f"显示 {first} 以来的记录。" in page
    assert not PersonalDataAccess.objects.filter(staff__username="auditor1").exists()


def test_filters_by_staff_account_dates_and_context(log):
    client = signed_in(quality_user())
    yesterday = (log["today"] - datetime.timedelta(days=1)).isoformat()
    first_number = log["accounts"][0].number

    def listed(**query):
        response = client.get(AUDIT, query)
        assert response.status_code == 200, response.content.decode()
        return [(row.username, row.context) for row in response.context["rows"]]

    # A submitted form without dates is the whole log: the 40-day-old opening is in it.
    assert listed(staff="CLERK-LI") == [("clerk-li", "营业厅收费（counter:search）"), ("clerk-li", "坐席来电弹屏（call:3）")]
    assert listed(number=first_number) == [("agent-wang", "坐席来电弹屏（call:7）"), ("agent-wang", "工单详情（ticket:T1）")]
    assert listed(date_from=yesterday, date_to=yesterday) == [
        ("clerk-li", "营业厅收费（counter:search）"), ("agent-wang", "工单详情（ticket:T1）"),
    ]
    assert listed(context="ticket") == [("agent-wang", "工单详情（ticket:T1）")]
    assert len(listed(staff="")) == 6  # a submitted form with no dates: the whole log


@pytest.mark.parametrize(("query", "message"), [
    ({"number": "12"}, "户号为10位数字"),
    ({"date_from": "2026-11-02", "date_to": "2026-11-01"}, "结束日期不能早于开始日期"),
    ({"context": "elsewhere"}, "选择一个有效的选项"),
    ({"date_from": "yesterday"}, "输入一个有效的日期"),
])
def test_bad_filters_are_a_clear_message_not_a_500(log, query, message):
    client = signed_in(quality_user())
    for url in (AUDIT, EXPORT):
        response = client.get(url, query)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_pages_of_fifty_keep_the_filters(django_assert_max_num_queries):
    agent = staff_member("agent-wang")
    customer = CustomerFactory()
    now = timezone.now()
    PersonalDataAccess.objects.bulk_create(
        PersonalDataAccess(staff=agent, customer=customer, fields=["phone"], context=f"call:{n}",
                           at=now - datetime.timedelta(minutes=n))
        for n in range(51)
    )
    client = signed_in(quality_user())

    first = client.get(AUDIT, {"staff": "agent-wang"})
    assert [row.context for row in first.context["rows"]][:2] == ["坐席来电弹屏（call:0）", "坐席来电弹屏（call:1）"]
    assert len(first.context["rows"]) == 50
    assert 'href="?staff=agent-wang&amp;page=2"' in first.content.decode()
    with django_assert_max_num_queries(12):
        second = client.get(AUDIT, {"staff": "agent-wang", "page": "2"})
    assert [row.context for row in second.context["rows"]] == ["坐席来电弹屏（call:50）"]


def test_charts_count_accesses_per_local_day_and_rank_the_viewers(log):
    response = signed_in(quality_user()).get(AUDIT)

    charts = json.loads(response.content.decode().split('<script id="report-charts" type="application/json">')[1]
                        .split("</script>")[0])
    days, viewers = charts
    yesterday, today = log["today"] - datetime.timedelta(days=1), log["today"]
    assert days["labels"] == [f"{yesterday:%m-%d}", f"{today:%m-%d}"]
    assert [series["data"] for series in days["series"]] == [[2, 3], [2, 3]]
    assert viewers["labels"] == ["agent-wang", "clerk-li"]
    assert [series["data"] for series in viewers["series"]] == [[4, 1], [3, 1]]
    assert [(v.username, v.accesses, v.customers) for v in response.context["viewers"]] == [
        ("agent-wang", 4, 3), ("clerk-li", 1, 1),
    ]
    assert "vendor/echarts/echarts.min.js" in response.content.decode()


def test_staff_who_open_more_distinct_customers_in_a_local_day_than_the_setting_are_flagged():
    agent, clerk = staff_member("agent-wang"), staff_member("clerk-li")
    customers = [CustomerFactory() for _ in range(3)]
    today = timezone.localdate()
    late = timezone.make_aware(datetime.datetime.combine(today - datetime.timedelta(days=1), datetime.time(23, 30)))
    early = late + datetime.timedelta(hours=1)  # 00:30 local: the next day
    for customer in customers:
        access(agent, customer, at=early)
        access(agent, customer, at=early + datetime.timedelta(minutes=5))  # the same customer again: still 3
    access(clerk, customers[0], at=late)
    access(clerk, customers[1], at=late)
    access(clerk, customers[2], at=early)
    client = signed_in(quality_user())

    with override_settings(PERSONAL_DATA_AUDIT_DAILY_CUSTOMERS=2):
        response = client.get(AUDIT)

    assert [(row.username, row.day, row.customers) for row in response.context["unusual"]] == [
        ("agent-wang", today, 3),
    ]
    page = response.content.decode()
    assert "查看量异常（一天内查看超过 2 位客户）" in page
    assert f'href="?staff=agent-wang&amp;date_from={today.isoformat()}&amp;date_to={today.isoformat()}"' in page
    with override_settings(PERSONAL_DATA_AUDIT_DAILY_CUSTOMERS=3):
        assert client.get(AUDIT).context["unusual"] == []
        assert "没有查看量异常的员工。" in client.get(AUDIT).content.decode()


def test_the_csv_export_has_every_filtered_row_with_names_masked(log):
    formula = CustomerFactory(name="=HYPERLINK(1)")
    access(log["agent"], formula, at=noon(0) + datetime.timedelta(hours=1), context="call:9")
    response = signed_in(quality_user()).get(EXPORT, {"staff": "agent-wang", "date_from": "2000-01-01"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="personal-data-access-')
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["时间", "查看人", "客户编号", "客户（脱敏）", "户号", "查看内容", "场景"]
    assert [(row[1], row[3], row[5], row[6]) for row in rows[1:]] == [
        ("agent-wang", "'=************", "手机号码", "call:9"),
        ("agent-wang", "王*", "手机号码", "call:7"),
        ("agent-wang", "李*", "手机号码", "call:7"),
        ("agent-wang", "张**", "手机号码", "call:7"),
        ("agent-wang", "张**", "客户名称", "ticket:T1"),
    ]
    assert rows[2][2] == str(log["accounts"][2].customer_id) and rows[2][4] == log["accounts"][2].number
