"""Business audit rules (稽查) on crafted data: which accounts and ledger events are flagged, with what figures;
scans are idempotent; a flag is resolved once, with a note, by an auditor or supervisor."""
import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Account, AuditFlag, AuditRule, LedgerEntry, Payment
from core.services.audit_rules import (
    AuditFlagAlreadyResolved,
    AuditFlagError,
    AuditFlagNotFound,
    AuditFlagNotPermitted,
    audit_flag_resolve,
    audit_scan,
    consumption_jump_flag,
    zero_consumption_flag,
)
from core.services.billing import bill_correct, bill_issue
from core.services.late_fees import late_fee_waive, late_fees_assess
from core.services.payments import payment_post, payment_reverse
from core.services.readings import reading_record
from core.services.roles import ROLE_SUPERVISOR
from core.services.tariffs import Usage
from core.tasks import audit_scan as audit_scan_task
from tests.core.quality_factories import monthly_readings, quality_user
from tests.core.test_late_fees import bill_charge, policies_set
from tests.factories import AccountFactory, MeterFactory

pytestmark = pytest.mark.django_db
D = Decimal
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 5, 8, tzinfo=SHANGHAI)


def month(year, number):
    return datetime.date(year, number, 1)


def flags(rule=None):
    found = AuditFlag.objects.order_by("account__number", "period", "id")
    if rule:
        found = found.filter(rule=rule)
    return [(f.rule, f.account.number, f.period, f.kwh, f.baseline_kwh, f.amount, f.reason) for f in found]


def zero_flags():
    return [(number, period) for _rule, number, period, *_rest in flags(AuditRule.ZERO_CONSUMPTION)]


AUG, SEP, OCT, NOV, DEC = (month(2026, m) for m in (8, 9, 10, 11, 12))


class TestZeroConsumption:
    def test_three_zero_months_on_an_active_account_are_flagged_once(self):
        flagged = AccountFactory()
        monthly_readings(flagged, {month(2026, 7): "80", AUG: "0", SEP: "0", OCT: "0"})
        two_months = AccountFactory()
        monthly_readings(two_months, {AUG: "12.5", SEP: "0", OCT: "0"})
        suspended = AccountFactory(status=Account.Status.SUSPENDED)
        monthly_readings(suspended, {AUG: "0", SEP: "0", OCT: "0"})
        missing_month = AccountFactory()
        monthly_readings(missing_month, {AUG: "0", OCT: "0"})

        assert zero_consumption_flag(period=OCT, now=NOW) == 1
        assert flags() == [(AuditRule.ZERO_CONSUMPTION, flagged.number, OCT, D("0.00"), None, None, "")]
        flag = AuditFlag.objects.get()
        assert (flag.branch_id, flag.state, flag.occurred_at, flag.raised_at) == (
            flagged.branch_id, AuditFlag.State.OPEN, datetime.datetime(2026, 10, 25, tzinfo=SHANGHAI), NOW
        )
        # The same scan again raises nothing.
        assert zero_consumption_flag(period=OCT, now=NOW) == 0
        assert AuditFlag.objects.count() == 1

    def test_a_run_of_zero_months_is_flagged_once_and_a_new_run_again(self):
        account = AccountFactory()
        meter = monthly_readings(account, {AUG: "0", SEP: "0", OCT: "0"})
        assert zero_consumption_flag(period=OCT, now=NOW) == 1
        # November and December still zero: the same run, no new flag.
        monthly_readings(account, {NOV: "0", DEC: "0"}, meter=meter)
        assert zero_consumption_flag(period=NOV, now=NOW) == 0
        assert zero_consumption_flag(period=DEC, now=NOW) == 0
        # Consumption in January ends the run; three zero months after it are a new run.
        monthly_readings(
            account, {month(2027, 1): "35", month(2027, 2): "0", month(2027, 3): "0", month(2027, 4): "0"},
            meter=meter,
        )
        assert zero_consumption_flag(period=month(2027, 3), now=NOW) == 0
        assert zero_consumption_flag(period=month(2027, 4), now=NOW) == 1
        assert zero_flags() == [(account.number, OCT), (account.number, month(2027, 4))]

    def test_a_resolved_flag_still_covers_its_run(self):
        auditor = quality_user()
        account = AccountFactory()
        meter = monthly_readings(account, {AUG: "0", SEP: "0", OCT: "0"})
        zero_consumption_flag(period=OCT, now=NOW)
        audit_flag_resolve(flag_id=AuditFlag.objects.get().pk, user=auditor, note="空置房，已现场核实")
        monthly_readings(account, {NOV: "0"}, meter=meter)

        assert zero_consumption_flag(period=NOV, now=NOW) == 0

    def test_two_meters_count_together(self):
        account = AccountFactory()
        monthly_readings(account, {AUG: "0", SEP: "0", OCT: "0"})
        monthly_readings(account, {AUG: "0", SEP: "4", OCT: "0"})

        assert zero_consumption_flag(period=OCT, now=NOW) == 0


class TestConsumptionJump:
    def history(self, values):
        """Monthly consumption for the twelve months before November 2026, oldest first."""
        return {month(2025 + (10 + i) // 12, (10 + i) % 12 + 1): value for i, value in enumerate(values)}

    def test_over_three_times_the_twelve_month_average_is_flagged(self):
        # Twelve months averaging 100.00 kWh (1,200 in all); November 300.01 is over 3x, exactly 300 is not.
        baseline = ["90", "110", "95", "105", "100", "100", "80", "120", "100", "100", "99", "101"]
        jumped = AccountFactory()
        monthly_readings(jumped, {**self.history(baseline), NOV: "300.01"})
        exactly_three = AccountFactory()
        monthly_readings(exactly_three, {**self.history(baseline), NOV: "300"})
        # Four months of history averaging 50: 151 is over 3x (the average is over the months read).
        short_history = AccountFactory()
        monthly_readings(short_history, {month(2026, 7): "40", AUG: "60", SEP: "50", OCT: "50", NOV: "151"})
        # Two months of history is too little to speak of an average.
        too_short = AccountFactory()
        monthly_readings(too_short, {SEP: "10", OCT: "10", NOV: "500"})
        # Nothing used before: no average to compare with (the zero rule covers that).
        never_used = AccountFactory()
        monthly_readings(never_used, {AUG: "0", SEP: "0", OCT: "0", NOV: "500"})
        # Readings older than twelve months are outside the baseline.
        old = AccountFactory()
        monthly_readings(old, {month(2025, 9): "1", month(2025, 10): "1", AUG: "100", SEP: "100", OCT: "100",
                               NOV: "250"})

        assert consumption_jump_flag(period=NOV, now=NOW) == 2
        assert flags() == sorted([
            (AuditRule.CONSUMPTION_JUMP, jumped.number, NOV, D("300.01"), D("100.00"), None, ""),
            (AuditRule.CONSUMPTION_JUMP, short_history.number, NOV, D("151.00"), D("50.00"), None, ""),
        ], key=lambda row: row[1])
        assert AuditFlag.objects.get(account=jumped).jump_ratio == D("3.0")
        assert consumption_jump_flag(period=NOV, now=NOW) == 0
        assert AuditFlag.objects.count() == 2

    def test_queries_do_not_grow_with_accounts(self):
        for _ in range(6):
            monthly_readings(AccountFactory(), {AUG: "10", SEP: "10", OCT: "10", NOV: "100"})
        with CaptureQueriesContext(connection) as queries:
            assert consumption_jump_flag(period=NOV, now=NOW) == 6
        assert len(queries) <= 3


class TestLedgerEvents:
    @pytest.fixture(autouse=True)
    def _policies(self):
        policies_set()

    def test_corrections_reversals_and_waivers_are_flagged_with_amount_and_reason(self):
        clerk = get_user_model().objects.create_user(username="营业员", password="x")
        corrected = AccountFactory()
        meter = MeterFactory(service_point__account=corrected)
        reading_record(meter=meter, read_on=datetime.date(2026, 1, 31), total="200", source="manual")
        bill = bill_issue(account=corrected, period=month(2026, 1), issued_on=datetime.date(2026, 2, 5))
        bill_correct(bill=bill, reason="抄错表", user=clerk, corrected_usage=Usage(kwh=D("180")))

        reversed_account = AccountFactory()
        result = payment_post(
            account=reversed_account, amount="88.00", channel=Payment.Channel.COUNTER, idempotency_key="p-1",
            received_at=NOW,
        )
        payment_reverse(payment=result.payment, user=clerk, reason="假币退回")
        kept = AccountFactory()
        payment_post(account=kept, amount="20.00", channel=Payment.Channel.ONLINE, idempotency_key="p-2",
                     received_at=NOW)

        waived = AccountFactory()
        bill_charge(account=waived, period=datetime.date(2025, 5, 1), total="500.00",
                    due_date=datetime.date(2025, 5, 31))
        (fee,) = late_fees_assess(account=waived, through=datetime.date(2025, 6, 10))
        late_fee_waive(late_fee=fee, amount="2.00", user=clerk, reason="系统故障导致无法缴费")
        late_fee_waive(late_fee=fee, amount="1.50", user=clerk, reason="复核后再减免")

        result = audit_scan(as_of=datetime.date(2026, 11, 5), now=timezone.now())

        assert result.raised == {
            AuditRule.ZERO_CONSUMPTION: 0, AuditRule.CONSUMPTION_JUMP: 0, AuditRule.BILL_CORRECTED: 1,
            AuditRule.PAYMENT_REVERSED: 1, AuditRule.LATE_FEE_WAIVED: 2,
        }
        assert result.periods == [OCT, NOV]
        # 200 kWh in tiers: 180 x 0.558 + 20 x 0.608 = 112.60 credited.
        assert sorted(flags(), key=lambda row: (row[0], row[6])) == [
            (AuditRule.BILL_CORRECTED, corrected.number, None, None, None, D("112.60"), "抄错表"),
            (AuditRule.LATE_FEE_WAIVED, waived.number, None, None, None, D("1.50"), "复核后再减免"),
            (AuditRule.LATE_FEE_WAIVED, waived.number, None, None, None, D("2.00"), "系统故障导致无法缴费"),
            (AuditRule.PAYMENT_REVERSED, reversed_account.number, None, None, None, D("88.00"), "假币退回"),
        ]
        reversal = AuditFlag.objects.get(rule=AuditRule.PAYMENT_REVERSED)
        assert reversal.ledger_entry.kind == LedgerEntry.Kind.PAYMENT_REVERSAL
        assert reversal.occurred_at == reversal.ledger_entry.created_at

        assert audit_scan(as_of=datetime.date(2026, 11, 5)).total == 0
        assert AuditFlag.objects.count() == 4

    def test_the_daily_scan_looks_back_and_a_full_scan_catches_up(self):
        account = AccountFactory()
        result = payment_post(
            account=account, amount="10.00", channel=Payment.Channel.COUNTER, idempotency_key="p-old",
            received_at=NOW,
        )
        payment_reverse(payment=result.payment, user=None, reason="重复收费")
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT_REVERSAL).update(
            created_at=timezone.now() - datetime.timedelta(days=60)
        )

        assert audit_scan(as_of=timezone.localdate()).raised[AuditRule.PAYMENT_REVERSED] == 0
        assert audit_scan(as_of=timezone.localdate(), full=True).raised[AuditRule.PAYMENT_REVERSED] == 1


def test_the_daily_task_scans_this_month_and_the_last():
    account = AccountFactory()
    this_month = timezone.localdate().replace(day=1)
    periods = [this_month]
    for _ in range(3):
        periods.insert(0, (periods[0] - datetime.timedelta(days=1)).replace(day=1))
    monthly_readings(account, {periods[0]: "0", periods[1]: "0", periods[2]: "0", periods[3]: "0"})

    raised = audit_scan_task.apply().get()

    # Last month was the third zero month: flagged there; this month continues the same run.
    assert raised[AuditRule.ZERO_CONSUMPTION] == 1
    assert zero_flags() == [(account.number, periods[2])]
    assert audit_scan_task.apply().get() == {rule: 0 for rule in AuditRule.values}


class TestResolve:
    @pytest.fixture
    def flag(self):
        account = AccountFactory()
        monthly_readings(account, {AUG: "0", SEP: "0", OCT: "0"})
        zero_consumption_flag(period=OCT, now=NOW)
        return AuditFlag.objects.get()

    @pytest.mark.parametrize("role", ["auditor", ROLE_SUPERVISOR])
    def test_an_auditor_or_supervisor_resolves_with_a_note(self, flag, role):
        user = quality_user(role)

        resolved = audit_flag_resolve(flag_id=flag.pk, user=user, note="  空置房，户主外出务工  ")

        flag.refresh_from_db()
        assert (flag.state, flag.resolved_by, flag.resolution_note) == (
            AuditFlag.State.RESOLVED, user, "空置房，户主外出务工"
        )
        assert flag.resolved_at is not None and resolved.pk == flag.pk

    def test_refusals_change_nothing(self, flag):
        auditor = quality_user()
        clerk = get_user_model().objects.create_user(username="clerk", password="x", is_staff=True)

        with pytest.raises(AuditFlagError) as empty:
            audit_flag_resolve(flag_id=flag.pk, user=auditor, note="   ")
        with pytest.raises(AuditFlagNotPermitted) as outsider:
            audit_flag_resolve(flag_id=flag.pk, user=clerk, note="看过了")
        with pytest.raises(AuditFlagNotFound) as missing:
            audit_flag_resolve(flag_id=flag.pk + 1000, user=auditor, note="看过了")

        assert (str(empty.value), empty.value.field) == ("请填写处理说明", "note")
        assert str(outsider.value) == "只有稽查员或班长可以处理稽查疑点"
        assert str(missing.value) == "稽查疑点不存在"
        flag.refresh_from_db()
        assert (flag.state, flag.resolution_note, flag.resolved_by) == (AuditFlag.State.OPEN, "", None)

    def test_a_flag_is_resolved_once(self, flag):
        first, second = quality_user(), quality_user()
        audit_flag_resolve(flag_id=flag.pk, user=first, note="已追补电量")

        with pytest.raises(AuditFlagAlreadyResolved) as again:
            audit_flag_resolve(flag_id=flag.pk, user=second, note="再处理")

        assert str(again.value) == "该稽查疑点已处理"
        flag.refresh_from_db()
        assert (flag.resolved_by, flag.resolution_note) == (first, "已追补电量")


def test_the_command_scans_and_reports_what_it_raised():
    from io import StringIO

    from django.core.management import CommandError, call_command

    account = AccountFactory()
    monthly_readings(account, {AUG: "0", SEP: "0", OCT: "0"})
    out = StringIO()

    call_command("audit_scan", "--as-of", "2026-11-05", "--full", stdout=out)
    call_command("audit_scan", "--as-of", "2026-11-05", stdout=out)

    assert out.getvalue().splitlines() == [
        "电费年月：2026-10, 2026-11", "连续零电量：新增1条", "电量突增：新增0条", "账单发行后更正：新增0条",
        "缴费冲正：新增0条", "违约金减免：新增0条", "共新增稽查疑点1条",
        "电费年月：2026-10, 2026-11", "连续零电量：新增0条", "电量突增：新增0条", "账单发行后更正：新增0条",
        "缴费冲正：新增0条", "违约金减免：新增0条", "共新增稽查疑点0条",
    ]
    with pytest.raises(CommandError) as bad:
        call_command("audit_scan", "--as-of", "2026-13-01")
    assert str(bad.value) == "日期格式应为YYYY-MM-DD，例如2026-11-05"
