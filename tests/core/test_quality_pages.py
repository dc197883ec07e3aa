"""The quality pages under /staff/reports/quality/ through HTTP: who may see them, the audit work list and resolving
a flag with a note, the reports with their filters, the complaints behind a figure, and the CSV and Excel exports."""
import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.utils import timezone
from openpyxl import load_workbook

from core.models import AuditFlag, AuditRule, BusinessType, CallOutcome, ComplaintClass, Ticket
from tests import ticket_factories
from tests.callcenter.factories import finished_call
from tests.core.quality_factories import monthly_readings, quality_user, supervisor
from tests.factories import AccountFactory, BranchFactory, CustomerFactory, ServiceStationFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db
BASE = "/staff/reports/quality/"
AUDIT = f"{BASE}audit/"
D = Decimal
NOW = timezone.now()
PAGES = [
    BASE, AUDIT, f"{AUDIT}export.csv", f"{AUDIT}export.xlsx", f"{BASE}complaints/list/", f"{BASE}monthly.xlsx",
    *[f"{BASE}{slug}/" for slug in ("sla", "complaints", "calls", "collection", "self-service")],
    f"{BASE}calls/export.csv", f"{BASE}sla/export.xlsx",
]


def flag_create(rule=AuditRule.PAYMENT_REVERSED, *, account=None, period=None, **fields) -> AuditFlag:
    account = account or AccountFactory()
    if rule in (AuditRule.ZERO_CONSUMPTION, AuditRule.CONSUMPTION_JUMP):
        fields.setdefault("period", period or datetime.date(2026, 10, 1))
    else:
        from core.models import LedgerEntry

        fields["ledger_entry"] = LedgerEntry.objects.create(
            account=account, kind=LedgerEntry.Kind.PAYMENT_REVERSAL, amount=fields.get("amount") or D("10.00"),
            balance_after=D("10.00"), memo=fields.get("reason", ""),
        )
    return AuditFlag.objects.create(
        rule=rule, account=account, branch=account.branch, occurred_at=NOW, raised_at=NOW, **fields
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def messages_shown(response) -> list[str]:
    """The messages the page a redirect led to showed (and so used up)."""
    return [str(message) for message in response.context["messages"]]


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def workbook(response):
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.content))


class TestAccess:
    def test_anonymous_visitors_are_sent_to_sign_in(self, client):
        for url in PAGES:
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="), url

    def test_other_staff_are_refused(self, client):
        clerk = ticket_factories.staff_user("counter_clerk", username="clerk")
        clerk.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="core"))
        flag = flag_create()
        client.force_login(clerk)

        for url in PAGES:
            assert client.get(url).status_code == 403, url
        assert client.post(f"{AUDIT}{flag.pk}/resolve/", {"note": "看过"}).status_code == 403
        flag.refresh_from_db()
        assert flag.state == AuditFlag.State.OPEN

    @pytest.mark.parametrize("role", ["auditor", "supervisor"])
    def test_auditors_and_supervisors_see_every_page(self, client, role):
        client.force_login(quality_user(role))
        for url in PAGES:
            assert client.get(url).status_code == 200, url

    def test_a_granted_permission_opens_the_pages(self, client):
        user = get_user_model().objects.create_user("granted", password="x", is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename="change_auditflag", content_type__app_label="core"))
        client.force_login(user)
        assert client.get(BASE).status_code == 200


class TestAuditList:
    def test_the_open_flags_newest_first_with_counts_by_rule(self, client):
        older = flag_create(AuditRule.ZERO_CONSUMPTION)
        AuditFlag.objects.filter(pk=older.pk).update(raised_at=NOW - datetime.timedelta(days=1))
        jump = flag_create(AuditRule.CONSUMPTION_JUMP, kwh=D("450.00"), baseline_kwh=D("100.00"))
        resolved = flag_create(reason="假币退回", amount=D("88.00"))
        AuditFlag.objects.filter(pk=resolved.pk).update(state=AuditFlag.State.RESOLVED, resolution_note="已追回")
        client.force_login(quality_user())

        response = client.get(AUDIT)

        assert response.status_code == 200
        work = response.context["work"]
        assert [flag.pk for flag in work.flags] == [jump.pk, older.pk]
        assert work.counts_by_rule == [
            ("连续零电量", 1), ("电量突增", 1), ("账单发行后更正", 0), ("缴费冲正", 0), ("违约金减免", 0)
        ]
        page = response.content.decode()
        assert "2026-10电量450.00 kWh，为前12个月月均100.00 kWh的4.5倍" in page
        assert "截至2026-10连续多月零电量" in page
        assert f'action="{AUDIT}{jump.pk}/resolve/"' in page

        everything = client.get(AUDIT, {"state": "", "rule": AuditRule.PAYMENT_REVERSED})
        assert [flag.pk for flag in everything.context["work"].flags] == [resolved.pk]
        assert "¥88.00 · 假币退回" in everything.content.decode()

    def test_bad_filters_are_shown_not_a_500(self, client):
        client.force_login(quality_user())
        response = client.get(AUDIT, {"rule": "nonsense", "branch": "x"})
        assert response.status_code == 400
        assert "选择一个有效的选项" in response.content.decode()

    def test_one_branch(self, client):
        branch = BranchFactory()
        mine = flag_create(account=AccountFactory(station=ServiceStationFactory(branch=branch)))
        flag_create()
        client.force_login(quality_user())

        response = client.get(AUDIT, {"branch": branch.pk, "state": "open"})

        assert [flag.pk for flag in response.context["work"].flags] == [mine.pk]

    def test_queries_do_not_grow_with_flags(self, client, django_assert_max_num_queries):
        client.force_login(quality_user())
        for _ in range(3):
            flag_create()
        with django_assert_max_num_queries(12) as few:
            client.get(AUDIT)
        for _ in range(12):
            flag_create(AuditRule.ZERO_CONSUMPTION)
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get(AUDIT)
        assert len(response.context["work"].flags) == 15

    def test_a_scan_feeds_the_list(self, client):
        from core.services.audit_rules import audit_scan

        account = AccountFactory()
        monthly_readings(account, {datetime.date(2026, 8, 1): "0", datetime.date(2026, 9, 1): "0",
                                   datetime.date(2026, 10, 1): "0"})
        audit_scan(as_of=datetime.date(2026, 11, 3))
        client.force_login(quality_user())

        page = client.get(AUDIT).content.decode()

        assert account.number in page and "截至2026-10连续多月零电量" in page


class TestResolve:
    def test_resolving_with_a_note_goes_back_to_the_list(self, client):
        flag = flag_create()
        auditor = quality_user()
        client.force_login(auditor)
        back = f"{AUDIT}?rule=payment_reversed"

        response = client.post(f"{AUDIT}{flag.pk}/resolve/", {"note": " 已核实为重复收费，已退款 ", "next": back})

        assert (response.status_code, response["Location"]) == (302, back)
        assert messages_of(response) == [f"稽查疑点 {flag.pk}（缴费冲正）已处理"]
        flag.refresh_from_db()
        assert (flag.state, flag.resolution_note, flag.resolved_by) == (
            AuditFlag.State.RESOLVED, "已核实为重复收费，已退款", auditor
        )
        listed = client.get(AUDIT, {"state": "resolved"}).content.decode()
        assert "已核实为重复收费，已退款" in listed

    def test_refusals_are_messages_and_change_nothing(self, client):
        flag = flag_create()
        client.force_login(supervisor())

        empty = client.post(f"{AUDIT}{flag.pk}/resolve/", {"note": "   "}, follow=True)
        missing = client.post(f"{AUDIT}{flag.pk + 999}/resolve/", {"note": "看过"}, follow=True)

        assert (empty.redirect_chain, messages_shown(empty)) == ([(AUDIT, 302)], ["请填写处理说明"])
        assert messages_shown(missing) == ["稽查疑点不存在"]
        flag.refresh_from_db()
        assert (flag.state, flag.resolution_note) == (AuditFlag.State.OPEN, "")
        outside = client.post(f"{AUDIT}{flag.pk}/resolve/", {"note": "看过", "next": "https://evil.example/"},
                              follow=True)
        assert outside.redirect_chain == [(AUDIT, 302)]
        again = client.post(f"{AUDIT}{flag.pk}/resolve/", {"note": "再看"}, follow=True)
        assert messages_shown(again) == ["该稽查疑点已处理"]
        too_long = client.post(f"{AUDIT}{flag.pk}/resolve/", {"note": "长" * 2001}, follow=True)
        assert messages_shown(too_long) == ["处理说明不能超过2000字"]
        flag.refresh_from_db()
        assert flag.resolution_note == "看过"

    def test_resolve_only_by_post(self, client):
        flag = flag_create()
        client.force_login(quality_user())
        assert client.get(f"{AUDIT}{flag.pk}/resolve/").status_code == 405


class TestAuditExport:
    def test_csv_and_excel_of_the_filtered_list(self, client):
        account = AccountFactory(name="钱女士")
        flag = flag_create(account=account, reason="假币退回", amount=D("88.00"))
        flag_create(AuditRule.ZERO_CONSUMPTION)
        client.force_login(quality_user())

        response = client.get(f"{AUDIT}export.csv", {"rule": AuditRule.PAYMENT_REVERSED, "state": "open"})

        assert response["Content-Disposition"].startswith('attachment; filename="audit-flags-')
        rows = csv_rows(response)
        assert rows[:3] == [["稽查疑点"], [], ["稽查疑点"]]
        header = rows[3]
        assert header[:4] == ["编号", "稽查规则", "户号", "户名"]
        assert len(rows) == 5
        record = dict(zip(header, rows[4]))
        assert (record["编号"], record["稽查规则"], record["户号"], record["户名"], record["金额(元)"],
                record["业务原因"], record["状态"]) == (
            str(flag.pk), "缴费冲正", account.number, "钱女士", "88.00", "假币退回", "待核查"
        )

        sheet = workbook(client.get(f"{AUDIT}export.xlsx", {"state": "open"}))["稽查疑点"]
        values = [[cell.value for cell in row] for row in sheet.iter_rows() if any(cell.value for cell in row)]
        assert [row[0] for row in values[:3]] == ["稽查疑点", "稽查疑点", "编号"]
        records = [dict(zip(values[2], row)) for row in values[3:]]
        assert sorted((record["稽查规则"], record["金额(元)"]) for record in records) == [
            ("缴费冲正", 88), ("连续零电量", None)
        ]

    def test_an_unknown_format_is_not_found(self, client):
        client.force_login(quality_user())
        assert client.get(f"{AUDIT}export.pdf").status_code == 404


class TestReports:
    @pytest.fixture
    def calls(self):
        at = local(2026, 10, 15, 10)
        for wait in (5, 30):
            finished_call(started_at=at, outcome=CallOutcome.ANSWERED, wait=wait, talk=100, wrap_up=20)
        finished_call(started_at=at, outcome=CallOutcome.ABANDONED, wait=40)
        finished_call(started_at=at, outcome=CallOutcome.IVR_RESOLVED)

    def test_a_month_of_call_centre_figures_on_the_page_and_in_both_files(self, client, calls):
        client.force_login(quality_user())

        response = client.get(f"{BASE}calls/", {"month": "2026-10"})

        assert response.status_code == 200
        page = response.content.decode()
        assert "统计期间：2026-10-01 ~ 2026-10-31" in page
        kpis = {row[0].text: row[1].text for row in response.context["tables"].tables[0].display}
        assert (kpis["呼入总量"], kpis["人工接听"], kpis["人工接通率"], kpis["服务水平（20秒内接听）"],
                kpis["放弃率"], kpis["平均处理时长（秒）"]) == ("4", "2", "66.7%", "33.3%", "33.3%", "120")
        assert 'href="/staff/reports/quality/calls/export.xlsx?month=2026-10"' in page

        rows = csv_rows(client.get(f"{BASE}calls/export.csv", {"month": "2026-10"}))
        assert rows[:2] == [["呼叫中心指标"], ["统计期间", "2026-10-01 ~ 2026-10-31"]]
        assert ["人工接通率", "66.7%"] in rows and ["平均处理时长（秒）", "120"] in rows

        book = workbook(client.get(f"{BASE}calls/export.xlsx", {"month": "2026-10"}))
        sheet = book["呼叫中心指标"]
        cells = {row[0].value: row[1] for row in sheet.iter_rows() if row[0].value and len(row) > 1}
        assert cells["人工接听"].value == 2
        # A rate is a fraction shown as a percentage (openpyxl reads numbers back as floats).
        assert (str(cells["人工接通率"].value), cells["人工接通率"].number_format) == ("0.667", "0.0%")

    def test_the_default_is_last_month(self, client):
        client.force_login(quality_user())
        today = timezone.localdate()
        last = today.replace(day=1) - datetime.timedelta(days=1)

        response = client.get(f"{BASE}sla/")

        assert response.context["tables"].period.label == f"{last.replace(day=1).isoformat()} ~ {last.isoformat()}"

    @pytest.mark.parametrize(
        "query, message",
        [
            ({"month": "2026-13"}, "请按“年-月”填写月份，例如 2026-10"),
            ({"date_from": "2026-10-05", "date_to": "2026-10-01"}, "结束日期不能早于开始日期"),
            ({"date_from": "2024-01-01", "date_to": "2026-01-01"}, "统计期间不能超过一年"),
            ({"date_from": "1999-01-01"}, "统计期间不能超过一年"),
        ],
    )
    def test_bad_periods_are_explained(self, client, query, message):
        client.force_login(quality_user())

        page = client.get(f"{BASE}collection/", query)
        export = client.get(f"{BASE}collection/export.csv", query)

        assert page.status_code == 400 and message in page.content.decode()
        assert (export.status_code, export.content.decode()) == (400, message)

    def test_an_unknown_report_is_not_found(self, client):
        client.force_login(quality_user())
        assert client.get(f"{BASE}nonsense/").status_code == 404
        assert client.get(f"{BASE}nonsense/export.csv").status_code == 404
        assert client.get(f"{BASE}sla/export.pdf").status_code == 404

    def test_the_monthly_pack_has_every_report(self, client, calls):
        client.force_login(quality_user())

        book = workbook(client.get(f"{BASE}monthly.xlsx", {"month": "2026-10"}))

        assert book.sheetnames == ["时限达成率", "投诉统计", "呼叫中心指标", "电费回收与欠费账龄", "自助渠道占比"]
        assert book["自助渠道占比"]["B2"].value == "2026-10-01 ~ 2026-10-31"

    def test_the_monthly_task_writes_last_months_pack_for_the_index(self, client, settings, tmp_path, calls):
        from core.tasks import quality_reports_monthly

        settings.VAR_DIR = tmp_path
        last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
        client.force_login(quality_user())
        assert "尚未生成月报" in client.get(BASE).content.decode()

        name = quality_reports_monthly.apply().get()

        assert name == f"quality-{last_month:%Y-%m}.xlsx"
        assert (tmp_path / "reports" / "quality" / name).is_file()
        link = f"{BASE}monthly/{last_month:%Y-%m}.xlsx"
        assert f'href="{link}"' in client.get(BASE).content.decode()
        download = client.get(link)
        assert download["Content-Disposition"] == f'attachment; filename="{name}"'
        book = load_workbook(io.BytesIO(b"".join(download.streaming_content)))
        assert len(book.sheetnames) == 5
        assert client.get(f"{BASE}monthly/1999-01.xlsx").status_code == 404
        assert client.get(f"{BASE}monthly/2026-13.xlsx").status_code == 404
        assert client.get(f"{BASE}monthly/99999-01.xlsx").status_code == 404

    def test_report_pages_query_a_fixed_number_of_times(self, client, calls, django_assert_max_num_queries):
        client.force_login(quality_user())
        for slug, most in (("sla", 14), ("complaints", 13), ("calls", 11), ("collection", 12), ("self-service", 11)):
            with django_assert_max_num_queries(most):
                assert client.get(f"{BASE}{slug}/", {"month": "2026-10"}).status_code == 200


class TestComplaints:
    @pytest.fixture
    def world(self):
        enshi = BranchFactory(name="恩施市")
        definition = ticket_factories.sample_process(business_type=BusinessType.COMPLAINT).definition
        customer = CustomerFactory(name="向女士")
        numbers = []
        for day, complaint_class in ((3, ComplaintClass.SERVICE), (9, ComplaintClass.TARIFF_BILLING),
                                     (12, ComplaintClass.SERVICE)):
            ticket = Ticket.objects.create(
                number=f"2610{day:02d}000001", definition=definition, business_type=BusinessType.COMPLAINT,
                channel="portal", branch=enshi, customer=customer, summary="抄表员态度差",
                opened_at=local(2026, 10, day, 9), complaint_class=complaint_class,
            )
            numbers.append(ticket.number)
        return {"enshi": enshi, "customer": customer, "numbers": numbers}

    def test_figures_link_to_the_complaints_behind_them(self, client, world):
        client.force_login(quality_user())

        response = client.get(f"{BASE}complaints/", {"month": "2026-10"})

        tables = {table.title: table for table in response.context["tables"].tables}
        service = tables["按投诉分类"].display[0]
        assert [cell.text for cell in service] == ["服务类", "2", "0", "0", "0", "—"]
        complainer = tables["重复投诉客户"].display[0]
        assert [cell.text for cell in complainer][:4] == ["向**", "138****" + world["customer"].phone[-4:], "3", "2"]

        listed = client.get(service[0].url)
        assert listed.status_code == 200
        assert [t.number for t in listed.context["found"].tickets] == [world["numbers"][2], world["numbers"][0]]
        page = listed.content.decode()
        assert f'href="/staff/tickets/{world["numbers"][2]}/"' in page
        by_person = client.get(complainer[0].url)
        assert [t.number for t in by_person.context["found"].tickets] == list(reversed(world["numbers"]))

    def test_a_bad_complainer_parameter_is_refused(self, client, world):
        client.force_login(quality_user())
        response = client.get(f"{BASE}complaints/list/", {"complainer": "x' OR 1=1"})
        assert response.status_code == 400
        assert "投诉人参数无效" in response.content.decode()

    def test_the_complaint_list_queries_a_fixed_number_of_times(self, client, world, django_assert_max_num_queries):
        client.force_login(quality_user())
        with django_assert_max_num_queries(10):
            response = client.get(f"{BASE}complaints/list/", {"month": "2026-10"})
        assert len(response.context["found"].tickets) == 3
