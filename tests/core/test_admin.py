"""The Django admin of core: every changelist loads, money records are read-only, no ID digest shown."""
import datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import (
    Bill,
    BillLine,
    Customer,
    LateFee,
    LedgerEntry,
    Payment,
    PaymentAllocation,
    TariffTier,
    TariffVersion,
)
from core.services.ledger import account_lock, ledger_post
from core.services.roles import role_group
from tests.factories import AccountFactory, MeterFactory

pytestmark = pytest.mark.django_db

CORE_MODELS = [model for model in admin.site._registry if model._meta.app_label == "core"]
READ_ONLY_MODELS = ["ledgerentry", "payment", "paymentallocation", "latefee", "bill", "billline"]


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="root", password="pw", email="root@example.com")
    client.force_login(user)
    return client


@pytest.fixture
def some_records():
    meter = MeterFactory()
    account = meter.service_point.account
    version = TariffVersion.objects.get(tariff__code="res-tiered")
    bill = Bill.objects.create(
        number="B202501000001",
        account=account,
        period=datetime.date(2025, 1, 1),
        tariff_version=version,
        issued_on=datetime.date(2025, 2, 1),
        due_date=datetime.date(2025, 3, 3),
        kwh=Decimal("100.00"),
        total=Decimal("55.80"),
    )
    BillLine.objects.create(
        bill=bill,
        position=1,
        kind=BillLine.Kind.TIER,
        label="第一档",
        quantity=Decimal("100.00"),
        unit_price=Decimal("0.5580"),
        amount=Decimal("55.80"),
    )
    with transaction.atomic():
        locked = account_lock(account_id=account.pk)
        ledger_post(account=locked, kind=LedgerEntry.Kind.BILL, amount=bill.total, bill=bill)
    # Rows written directly: the admin only displays them, whatever service produced them.
    late_fee = LateFee.objects.create(
        account=account,
        bill=bill,
        accrued_from=datetime.date(2025, 3, 4),
        accrued_to=datetime.date(2025, 3, 13),
        days=10,
        base_amount=Decimal("55.80"),
        amount=Decimal("1.00"),
    )
    payment = Payment.objects.create(
        account=account,
        amount=Decimal("56.80"),
        channel=Payment.Channel.COUNTER,
        idempotency_key="counter-0",
        received_at=datetime.datetime(2025, 3, 14, 9, 0, tzinfo=datetime.UTC),
    )
    PaymentAllocation.objects.create(payment=payment, late_fee=late_fee, amount=Decimal("1.00"))
    PaymentAllocation.objects.create(payment=payment, bill=bill, amount=Decimal("55.80"))
    return bill


def test_every_core_model_is_registered():
    import core.models

    assert {model.__name__ for model in CORE_MODELS} >= set(core.models.__all__)


@pytest.mark.parametrize("model", CORE_MODELS, ids=lambda m: m._meta.model_name)
def test_changelist_loads_with_a_query_count_that_does_not_grow_with_rows(superuser_client, some_records, model):
    url = reverse(f"admin:core_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as one_world:
        assert superuser_client.get(url).status_code == 200
    AccountFactory.create_batch(3)
    MeterFactory.create_batch(3)
    with CaptureQueriesContext(connection) as bigger_world:
        assert superuser_client.get(url).status_code == 200
    assert len(bigger_world) == len(one_world)


@pytest.mark.parametrize("model_name", READ_ONLY_MODELS)
def test_money_records_refuse_add_change_and_delete(superuser_client, some_records, model_name):
    model_admin = next(ma for m, ma in admin.site._registry.items() if m._meta.model_name == model_name)
    request = RequestFactory().get("/")
    obj = model_admin.model.objects.first()
    assert obj is not None
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request, obj) is False
    assert model_admin.has_delete_permission(request, obj) is False
    assert superuser_client.get(reverse(f"admin:core_{model_name}_add")).status_code == 403
    delete_url = reverse(f"admin:core_{model_name}_delete", args=[obj.pk])
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert model_admin.model.objects.filter(pk=obj.pk).exists()
    assert superuser_client.get(reverse(f"admin:core_{model_name}_change", args=[obj.pk])).status_code == 200


def test_posting_a_change_to_a_payment_changes_nothing(superuser_client, some_records):
    account = some_records.account
    payment = Payment.objects.create(
        account=account,
        amount=Decimal("55.80"),
        channel=Payment.Channel.COUNTER,
        idempotency_key="counter-1",
        received_at=datetime.datetime(2025, 2, 10, 9, 0, tzinfo=datetime.UTC),
    )
    url = reverse("admin:core_payment_change", args=[payment.pk])
    response = superuser_client.post(url, {"amount": "1.00", "channel": "counter"})
    assert response.status_code == 403
    payment.refresh_from_db()
    assert payment.amount == Decimal("55.80")


def test_customer_admin_shows_the_masked_id_never_the_digest(superuser_client):
    customer = Customer.objects.create(
        name="张三", phone="13800000001", id_number_hash="f" * 64, id_number_masked="4228**********1234"
    )
    response = superuser_client.get(reverse("admin:core_customer_change", args=[customer.pk]))
    body = response.content.decode()
    assert "4228**********1234" in body
    assert "f" * 64 not in body
    assert "id_number_hash" not in body
    changelist = superuser_client.get(reverse("admin:core_customer_changelist")).content.decode()
    assert "4228**********1234" in changelist
    assert "f" * 64 not in changelist


def test_account_balance_is_not_editable(superuser_client, some_records):
    account = some_records.account
    response = superuser_client.get(reverse("admin:core_account_change", args=[account.pk]))
    assert 'name="balance"' not in response.content.decode()


def _version_post_data(**overrides) -> dict:
    data = {
        "tariff": "",
        "effective_from": "2026-01-01",
        "structure": "tiered",
        "tier_basis": "monthly",
        "flat_price": "",
        "capacity_basis": "none",
        "capacity_price": "0",
        "demand_price": "0",
        "power_factor_standard": "",
        "note": "",
    }
    for prefix in ("tiers", "period_prices", "time_bands"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    data.update(overrides)
    return data


def _tiers(*rows) -> dict:
    data = {"tiers-TOTAL_FORMS": str(len(rows))}
    for index, (number, upper, price) in enumerate(rows):
        data[f"tiers-{index}-number"] = str(number)
        data[f"tiers-{index}-upper_kwh"] = upper
        data[f"tiers-{index}-price"] = price
    return data


def test_tariff_version_admin_adds_a_valid_tiered_version(superuser_client):
    tariff = TariffVersion.objects.get(tariff__code="res-tiered").tariff
    data = _version_post_data(tariff=str(tariff.pk), **_tiers((1, "200", "0.5580"), (2, "", "0.6080")))
    response = superuser_client.post(reverse("admin:core_tariffversion_add"), data)
    assert response.status_code == 302
    version = TariffVersion.objects.get(tariff=tariff, effective_from=datetime.date(2026, 1, 1))
    assert [(t.number, t.upper_kwh, t.price) for t in version.tiers.all()] == [
        (1, Decimal("200.00"), Decimal("0.5580")),
        (2, None, Decimal("0.6080")),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"structure": "flat"}, "单一电价须填写电度电价"),
        ({"structure": "flat", "flat_price": "0.6", "capacity_basis": "demand"}, "按需量计收基本电费须填写需量电价"),
        ({}, "阶梯电价至少需要一个档次"),
        (_tiers((1, "200", "0.5580"), (2, "300", "0.6080")), "最后一档不应设上限"),
        (_tiers((1, "200", "0.5580"), (3, "", "0.6080")), "档次应从1开始连续编号"),
        (_tiers((1, "400", "0.5"), (2, "200", "0.6"), (3, "", "0.8")), "各档上限应逐档递增，仅最后一档不设上限"),
        ({"structure": "tou"}, "分时电价至少需要峰、谷两个时段的电价"),
    ],
)
def test_tariff_version_admin_rejects_incomplete_prices(superuser_client, overrides, message):
    tariff = TariffVersion.objects.get(tariff__code="res-tiered").tariff
    before = (TariffVersion.objects.count(), TariffTier.objects.count())
    response = superuser_client.post(
        reverse("admin:core_tariffversion_add"), _version_post_data(tariff=str(tariff.pk), **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert (TariffVersion.objects.count(), TariffTier.objects.count()) == before


def test_a_tariff_version_with_bills_is_frozen(superuser_client, some_records):
    version = some_records.tariff_version
    response = superuser_client.get(reverse("admin:core_tariffversion_change", args=[version.pk]))
    assert response.status_code == 200
    assert 'name="flat_price"' not in response.content.decode()
    post = superuser_client.post(
        reverse("admin:core_tariffversion_change", args=[version.pk]), _version_post_data(structure="flat")
    )
    assert post.status_code == 403
    version.refresh_from_db()
    assert version.structure == "tiered"
    unused = TariffVersion.objects.get(tariff__code="com-flat")
    page = superuser_client.get(reverse("admin:core_tariffversion_change", args=[unused.pk])).content.decode()
    assert 'name="flat_price"' in page


def test_auditor_sees_the_ledger_but_cannot_change_it(client, django_user_model, some_records):
    user = django_user_model.objects.create_user(username="audit", password="pw", is_staff=True)
    user.groups.add(role_group(code="auditor"))
    client.force_login(user)
    assert client.get(reverse("admin:core_ledgerentry_changelist")).status_code == 200
    assert client.get(reverse("admin:core_account_changelist")).status_code == 200
    account = some_records.account
    assert client.get(reverse("admin:core_account_change", args=[account.pk])).status_code == 200
    response = client.post(reverse("admin:core_account_change", args=[account.pk]), {"name": "改名"})
    assert response.status_code == 403
