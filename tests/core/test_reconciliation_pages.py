"""The online-payment reconciliation pages (/staff/reports/reconciliation/): who may see them, the recent days with
their state and the chart's JSON, one day's differences with the link to the online payment in the admin, the
notice on the decision-support overview and the staff navigation, and a flat query count.

The stored runs are laid down through core.services.online_reconciliation.online_reconciliation_store with the
result the comparison hands it (test_online_reconciliation runs the comparison itself against localstripe)."""
from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from core.models import OnlinePayment, Payment
from core.services.online_payments import Difference, Reconciliation
from core.services.online_reconciliation import online_reconciliation_store
from core.services.payments import payment_post
from core.services.roles import (
    ROLE_AUDITOR,
    ROLE_BRANCH_ACCOUNTANT,
    ROLE_CASHIER,
    ROLE_COUNTER_CLERK,
    ROLE_SUPERVISOR,
    role_group,
)
from tests.portal.factories import AccountBindingFactory, PortalUserFactory

pytestmark = pytest.mark.django_db
INDEX = "/staff/reports/reconciliation/"
TODAY = timezone.localdate()
YESTERDAY = TODAY - datetime.timedelta(days=1)
BEFORE = TODAY - datetime.timedelta(days=2)


def day_url(day: datetime.date) -> str:
    return f"{INDEX}{day.isoformat()}/"


@dataclass(frozen=True)
class StripeCharge:
    id: str
    payment_intent: str
    amount: int
    amount_refunded: int = 0
    status: str = "succeeded"
    currency: str = "cny"
    created: int = 0


def user_with_role(code: str | None, username: str, *, extra: tuple[str, ...] = ()):
    user = get_user_model().objects.create_user(username=username, password="x", is_staff=True)
    if code:
        user.groups.add(role_group(code=code))
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="core", codename__in=extra))
    return user


@pytest.fixture
def supervisor():
    return user_with_role(ROLE_SUPERVISOR, "boss")


@pytest.fixture
def runs():
    """Three days: two days ago all agreed; yesterday a lost refund webhook and a charge we know nothing of."""
    binding = AccountBindingFactory()
    credit = payment_post(account=binding.account, amount=D("40.00"), channel=Payment.Channel.ONLINE,
                          idempotency_key="stripe:pi_recon1", received_at=timezone.now())
    paid = OnlinePayment.objects.create(
        provider="stripe", provider_reference="pi_recon1", account=binding.account, user=binding.user,
        purpose="arrears", amount=D("40.00"), currency="cny", state="succeeded", created_at=timezone.now(),
        payment=credit.payment,
    )
    online_reconciliation_store(
        reconciliation=Reconciliation(day=BEFORE, charges=5, payments=5, differences=[], refunds=0),
        ran_at=timezone.now() - datetime.timedelta(days=1),
    )
    online_reconciliation_store(
        reconciliation=Reconciliation(
            day=YESTERDAY, charges=7, payments=6, refunds=1,
            differences=[
                Difference("refund_mismatch", "pi_recon1", "stripe refunded 10.00, ledger reversed 0.00, ours succeeded"),
                Difference("unknown_charge", "ch_stranger", "30.00 cny"),
            ],
        ),
        charges=[StripeCharge("ch_recon1", "pi_recon1", 4000, 1000), StripeCharge("ch_stranger", "pi_other", 3000)],
    )
    return paid


def table(response, element_id: str) -> list[list[str]]:
    html = response.content.decode()
    body = re.search(rf'<table class="table" id="{element_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


# --- who may see them -------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, runs):
    for url in (INDEX, day_url(YESTERDAY)):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("role", [ROLE_COUNTER_CLERK, ROLE_CASHIER, None])
def test_other_staff_are_refused(client, runs, role):
    client.force_login(user_with_role(role, "clerk"))
    assert client.get(INDEX).status_code == 403
    assert client.get(day_url(YESTERDAY)).status_code == 403


def test_portal_customers_are_refused(client, runs):
    client.force_login(PortalUserFactory())
    assert client.get(INDEX).status_code == 403
    assert client.get(day_url(YESTERDAY)).status_code == 403


@pytest.mark.parametrize("role", [ROLE_SUPERVISOR, ROLE_AUDITOR, ROLE_BRANCH_ACCOUNTANT])
def test_supervisors_auditors_and_accountants_see_them(client, runs, role):
    client.force_login(user_with_role(role, f"user-{role}"))
    assert client.get(INDEX).status_code == 200
    response = client.get(day_url(YESTERDAY))
    assert response.status_code == 200
    # The staff navigation offers the page to them.
    assert f'<a href="{INDEX}">网上缴费对账</a>' in response.content.decode()


def test_the_navigation_does_not_offer_it_to_others(client, runs):
    client.force_login(user_with_role(ROLE_COUNTER_CLERK, "clerk"))
    assert INDEX not in client.get("/staff/").content.decode()


# --- the pages ----------------------------------------------------------------------------------------------------


def test_the_list_shows_each_recent_day_with_its_state(client, runs, supervisor):
    client.force_login(supervisor)
    response = client.get(INDEX)
    assert table(response, "reconciliation-days") == [
        [YESTERDAY.isoformat(), "7", "6", "1", "2", "有差异", timezone.localtime().strftime("%Y-%m-%d %H:%M")],
        [BEFORE.isoformat(), "5", "5", "0", "0", "全部一致",
         (timezone.localtime() - datetime.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")],
    ]
    assert f'<a href="{day_url(YESTERDAY)}">{YESTERDAY.isoformat()}</a>' in response.content.decode()


def test_the_chart_counts_differences_per_day_over_30_days_leaving_days_not_run_empty(client, runs, supervisor):
    client.force_login(supervisor)
    html = client.get(INDEX).content.decode()
    found = re.search(r'<script id="report-charts" type="application/json">(.*?)</script>', html, re.S)
    [chart] = json.loads(found.group(1))
    assert chart["id"] == "chart-reconciliation"
    assert len(chart["labels"]) == 30
    assert chart["labels"][-1] == f"{TODAY:%m-%d}"
    assert chart["series"] == [{"name": "差异项数", "type": "bar", "yAxisIndex": 0,
                                "data": ["-"] * 27 + ["0", "2", "-"]}]
    # Drawn by the decision-support pages' script with the bundled ECharts.
    assert 'id="chart-reconciliation"' in html and "core/staff/reports.js" in html


def test_a_day_lists_its_differences_with_both_sides(client, runs, supervisor):
    client.force_login(supervisor)
    response = client.get(day_url(YESTERDAY))
    assert table(response, "reconciliation-differences") == [
        ["退款与冲正不一致", "ch_recon1", "pi_recon1", "¥10.00", "¥0.00",
         "stripe refunded 10.00, ledger reversed 0.00, ours succeeded"],
        ["Stripe有扣款，本地无支付记录", "ch_stranger", "—", "¥30.00", "—", "30.00 cny"],
    ]
    # The supervisor views every core record: the online payment is one click away in the admin.
    assert f'<a href="/django-admin/core/onlinepayment/{runs.pk}/change/">pi_recon1</a>' in response.content.decode()


def test_without_the_online_payment_view_permission_the_reference_is_plain_text(client, runs):
    client.force_login(user_with_role(ROLE_BRANCH_ACCOUNTANT, "accountant"))
    html = client.get(day_url(YESTERDAY)).content.decode()
    assert "pi_recon1" in html and "/django-admin/core/onlinepayment/" not in html


def test_a_day_that_agreed_says_so_and_a_day_not_run_is_404(client, runs, supervisor):
    client.force_login(supervisor)
    assert "全部一致：Stripe与本地记录没有差异。" in client.get(day_url(BEFORE)).content.decode()
    assert client.get(day_url(TODAY)).status_code == 404
    assert client.get(f"{INDEX}2026-13-40/").status_code == 404


def test_the_pages_run_a_fixed_number_of_queries(client, runs, supervisor, django_assert_max_num_queries):
    client.force_login(supervisor)
    with django_assert_max_num_queries(6) as listed:
        assert client.get(INDEX).status_code == 200
    with django_assert_max_num_queries(7) as shown:
        assert client.get(day_url(YESTERDAY)).status_code == 200
    online_reconciliation_store(
        reconciliation=Reconciliation(
            day=TODAY - datetime.timedelta(days=3), charges=9, payments=9, refunds=0,
            differences=[Difference("unknown_charge", f"ch_more{n}", "1.00 cny") for n in range(5)],
        ),
    )
    with django_assert_max_num_queries(len(listed.captured_queries)):
        assert client.get(INDEX).status_code == 200
    with django_assert_max_num_queries(len(shown.captured_queries)):
        assert client.get(day_url(TODAY - datetime.timedelta(days=3))).status_code == 200


# --- where supervisors already look -------------------------------------------------------------------------------


def test_the_decision_support_overview_counts_the_days_with_differences(client, runs, supervisor):
    client.force_login(supervisor)
    html = client.get("/staff/reports/").content.decode()
    assert (f'<p class="notice" id="reconciliation-notice"><a href="{INDEX}">'
            "网上缴费对账：近30天中有 1 天Stripe与本地记录存在差异</a></p>") in html


def test_the_overview_says_nothing_when_every_day_agreed(client, supervisor):
    online_reconciliation_store(
        reconciliation=Reconciliation(day=YESTERDAY, charges=1, payments=1, differences=[]),
    )
    client.force_login(supervisor)
    html = client.get("/staff/reports/").content.decode()
    assert 'id="reconciliation-notice"' not in html
    # The page is still one tab away.
    assert f'<a href="{INDEX}">网上缴费对账</a>' in html
