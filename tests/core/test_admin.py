"""The Django admin of core: every changelist loads, money and ticket records are read-only, no ID digest shown,
process definitions are edited as drafts and activated only when valid."""
import datetime
import json
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection, models, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import (
    Bill,
    BillLine,
    Customer,
    Evaluation,
    LateFee,
    LedgerEntry,
    Payment,
    PaymentAllocation,
    ProcessDefinition,
    StepDefinition,
    TariffTier,
    TariffVersion,
    Ticket,
    WarningThreshold,
    WorkCalendarDay,
)
from core.services.ledger import account_lock, ledger_post
from core.services.process_definitions import process_definition_new_version
from core.services.roles import role_group
from core.services.tickets import ticket_open, ticket_step_skip, ticket_step_submit
from tests.factories import AccountFactory, BranchFactory, MeterFactory
from tests.ticket_factories import local

pytestmark = pytest.mark.django_db

CORE_MODELS = [model for model in admin.site._registry if model._meta.app_label == "core"]
READ_ONLY_MODELS = ["ledgerentry", "payment", "paymentallocation", "latefee", "bill", "billline"]
READ_ONLY_TICKET_MODELS = [
    "ticket",
    "ticketstep",
    "ticketevent",
    "evaluation",
    "ticketdaysequence",
    "stepdefinition",
    "transitiondefinition",
]


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


@pytest.fixture
def a_ticket(superuser_client, django_user_model):
    """A praise ticket worked through the engine: opened, its first step submitted, the follow-up skipped when
    overdue (which writes an evaluation), so it has steps, events and an evaluation to show."""
    root = django_user_model.objects.get(username="root")
    ticket = ticket_open(
        business_type="praise", channel="agent", summary="表扬抢修班", branch=BranchFactory(), contact_phone="13800000002",
        at=local(2026, 11, 23, 9),
    )
    ticket_step_submit(
        step_id=ticket.current_step_id, user=root,
        data={"praised_unit": "城区抢修班", "conveyed_on": "2026-11-23"}, at=local(2026, 11, 23, 10),
    )
    ticket.refresh_from_db()
    ticket_step_skip(step_id=ticket.current_step_id, reason="超时未致谢", automatic=True, at=local(2026, 12, 1, 9))
    ticket.refresh_from_db()
    return ticket


def test_every_core_model_is_registered():
    import core.models

    model_names = {
        name
        for name in core.models.__all__
        if isinstance(getattr(core.models, name), type) and issubclass(getattr(core.models, name), models.Model)
    }
    assert {"ProcessDefinition", "Ticket", "WarningThreshold"} <= model_names
    assert {model.__name__ for model in CORE_MODELS} >= model_names


@pytest.mark.parametrize("model", CORE_MODELS, ids=lambda m: m._meta.model_name)
def test_changelist_loads_with_a_query_count_that_does_not_grow_with_rows(
    superuser_client, some_records, a_ticket, model
):
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


# Tickets: read-only


def test_the_ticket_fixture_went_through_the_engine(a_ticket):
    assert a_ticket.state == Ticket.State.CLOSED
    assert Evaluation.objects.filter(ticket=a_ticket, reason="skipped").count() == 1


@pytest.mark.parametrize("model_name", READ_ONLY_TICKET_MODELS)
def test_ticket_records_refuse_add_change_and_delete(superuser_client, a_ticket, model_name):
    model_admin = next(ma for m, ma in admin.site._registry.items() if m._meta.model_name == model_name)
    obj = model_admin.model.objects.first()
    assert obj is not None
    assert superuser_client.get(reverse(f"admin:core_{model_name}_add")).status_code == 403
    delete_url = reverse(f"admin:core_{model_name}_delete", args=[obj.pk])
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert model_admin.model.objects.filter(pk=obj.pk).exists()
    change_url = reverse(f"admin:core_{model_name}_change", args=[obj.pk])
    assert superuser_client.get(change_url).status_code == 200
    assert superuser_client.post(change_url, {}).status_code == 403


def test_ticket_page_shows_its_steps_and_events(superuser_client, a_ticket):
    body = superuser_client.get(reverse("admin:core_ticket_change", args=[a_ticket.pk])).content.decode()
    assert a_ticket.number in body
    assert "转达表扬" in body and "致谢客户" in body
    assert "已跳过" in body


def test_supervisor_reads_tickets_in_the_admin_but_cannot_change_them(client, django_user_model, a_ticket):
    user = django_user_model.objects.create_user(username="sup", password="pw", is_staff=True)
    user.groups.add(role_group(code="supervisor"))
    client.force_login(user)
    assert client.get(reverse("admin:core_ticket_changelist")).status_code == 200
    assert client.get(reverse("admin:core_evaluation_changelist")).status_code == 200
    url = reverse("admin:core_ticket_change", args=[a_ticket.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"summary": "改写"}).status_code == 403


# Calendar and warning thresholds: editable


def test_a_holiday_is_added_in_the_admin(superuser_client):
    response = superuser_client.post(
        reverse("admin:core_workcalendarday_add"), {"date": "2031-10-01", "is_workday": "", "name": "国庆节"}
    )
    assert response.status_code == 302
    day = WorkCalendarDay.objects.get(date=datetime.date(2031, 10, 1))
    assert (day.is_workday, day.name) == (False, "国庆节")


def test_an_operators_warning_threshold_is_set_in_the_admin(superuser_client, django_user_model):
    operator = django_user_model.objects.create_user(username="op", password="pw")
    response = superuser_client.post(
        reverse("admin:core_warningthreshold_add"),
        {"user": str(operator.pk), "minutes_before_due": "120", "percent_elapsed": "80"},
    )
    assert response.status_code == 302
    threshold = WarningThreshold.objects.get(user=operator)
    assert (threshold.minutes_before_due, threshold.percent_elapsed) == (120, 80)
    bad = superuser_client.post(
        reverse("admin:core_warningthreshold_add"), {"user": str(operator.pk), "percent_elapsed": "100"}
    )
    assert bad.status_code == 200


# Process definitions: drafts edited, activated only when valid


def active_definition(business_type: str) -> ProcessDefinition:
    return ProcessDefinition.objects.get(business_type=business_type, active=True)


def definition_post_data(definition: ProcessDefinition, **step_changes) -> dict:
    """The change form of `definition` as the admin would post it back; step_changes maps a step code to
    the field values to change (e.g. survey={"post": ""})."""
    data = {
        "business_type": definition.business_type,
        "version": str(definition.version),
        "name": definition.name,
        "commitment_kind": definition.commitment_kind,
        "commitment_value": "" if definition.commitment_value is None else str(definition.commitment_value),
    }
    data.update({name: "on" for name in ("allows_anonymous", "requires_account") if getattr(definition, name)})
    steps = list(definition.steps.order_by("order"))
    transitions = list(definition.transitions.order_by("id"))
    for prefix, rows in (("steps", steps), ("transitions", transitions)):
        data.update({
            f"{prefix}-TOTAL_FORMS": str(len(rows)),
            f"{prefix}-INITIAL_FORMS": str(len(rows)),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        })
    for index, step in enumerate(steps):
        values = {
            "id": str(step.pk), "definition": str(definition.pk), "order": str(step.order), "code": step.code,
            "post": str(step.post_id or ""), "name": step.name, "name_en": step.name_en,
            "customer_text": step.customer_text, "customer_text_en": step.customer_text_en,
            "limit_kind": step.limit_kind, "limit_value": str(step.limit_value),
            "limit_by_area": json.dumps(step.limit_by_area), "priority": str(step.priority),
            "fields": json.dumps(step.fields, ensure_ascii=False), "checks": json.dumps(step.checks),
        }
        if step.auto_skip_when_overdue:
            values["auto_skip_when_overdue"] = "on"
        values.update(step_changes.get(step.code, {}))
        data.update({f"steps-{index}-{key}": value for key, value in values.items()})
    for index, transition in enumerate(transitions):
        values = {
            "id": str(transition.pk), "definition": str(definition.pk), "from_step": str(transition.from_step_id),
            "kind": transition.kind, "to_step": str(transition.to_step_id or ""),
            "condition": json.dumps(transition.condition), "order": str(transition.order), "label": transition.label,
        }
        data.update({f"transitions-{index}-{key}": value for key, value in values.items()})
    return data


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_an_active_definition_is_read_only_and_says_it_validates(superuser_client):
    definition = active_definition("lv_residential_connection")
    url = reverse("admin:core_processdefinition_change", args=[definition.pk])
    response = superuser_client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="name"' not in body
    assert "校验通过" in body
    assert superuser_client.post(url, definition_post_data(definition)).status_code == 403


def test_the_new_version_action_copies_the_definition_and_opens_the_draft(superuser_client):
    definition = active_definition("complaint")
    response = superuser_client.post(
        reverse("admin:core_processdefinition_changelist"),
        {"action": "new_version", "_selected_action": [str(definition.pk)]},
    )
    draft = ProcessDefinition.objects.get(business_type="complaint", version=2)
    assert draft.active is False
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:core_processdefinition_change", args=[draft.pk])
    page = superuser_client.get(response["Location"])
    assert 'name="name"' in page.content.decode()
    assert page_messages(page) == ["已创建“投诉”的新版本 v2（未启用），修改后请启用"]
    assert draft.steps.count() == definition.steps.count()


def test_transitions_choose_only_among_the_drafts_own_steps(superuser_client):
    draft = process_definition_new_version(definition=active_definition("praise"))
    response = superuser_client.get(reverse("admin:core_processdefinition_change", args=[draft.pk]))
    transitions = next(
        inline.formset for inline in response.context["inline_admin_formsets"] if inline.formset.prefix == "transitions"
    )
    field = transitions.forms[0].fields["to_step"]
    assert set(field.queryset) == set(StepDefinition.objects.filter(definition=draft))
    assert field.empty_label == "（结束）"


def test_an_invalid_draft_is_saved_with_a_warning_and_its_activation_is_refused(superuser_client):
    draft = process_definition_new_version(definition=active_definition("lv_residential_connection"))
    url = reverse("admin:core_processdefinition_change", args=[draft.pk])
    response = superuser_client.post(url, definition_post_data(draft, survey={"post": ""}), follow=True)
    assert response.status_code == 200
    assert StepDefinition.objects.get(definition=draft, code="survey").post is None
    assert "流程定义尚未通过校验，不能启用：环节“勘查及确定供电方案”没有指定岗位" in page_messages(response)
    assert "环节“勘查及确定供电方案”没有指定岗位" in superuser_client.get(url).content.decode()
    refused = superuser_client.post(
        reverse("admin:core_processdefinition_changelist"),
        {"action": "activate", "_selected_action": [str(draft.pk)]},
        follow=True,
    )
    assert page_messages(refused) == ["流程定义有误，不能启用：环节“勘查及确定供电方案”没有指定岗位"]
    assert active_definition("lv_residential_connection").version == 1


def test_a_valid_draft_is_edited_and_activated_and_the_old_version_retires(superuser_client):
    first = active_definition("lv_residential_connection")
    draft = process_definition_new_version(definition=first)
    url = reverse("admin:core_processdefinition_change", args=[draft.pk])
    saved = superuser_client.post(url, definition_post_data(draft, survey={"name": "上门勘查"}), follow=True)
    assert page_messages(saved) and not any("尚未通过校验" in m for m in page_messages(saved))
    response = superuser_client.post(
        reverse("admin:core_processdefinition_changelist"),
        {"action": "activate", "_selected_action": [str(draft.pk)]},
        follow=True,
    )
    assert page_messages(response) == ["已启用“低压居民新装 v2”"]
    assert active_definition("lv_residential_connection") == draft
    assert draft.steps.get(code="survey").name == "上门勘查"
    first.refresh_from_db()
    assert first.active is False
    assert first.steps.get(code="survey").name == "勘查及确定供电方案"


def test_two_versions_of_one_type_cannot_be_activated_together(superuser_client):
    first = active_definition("praise")
    draft = process_definition_new_version(definition=first)
    response = superuser_client.post(
        reverse("admin:core_processdefinition_changelist"),
        {"action": "activate", "_selected_action": [str(first.pk), str(draft.pk)]},
        follow=True,
    )
    assert page_messages(response) == ["同一业务类型只能启用一个版本"]
    assert active_definition("praise") == first


def test_a_definition_tickets_were_opened_on_stays_frozen_after_it_is_retired(superuser_client, a_ticket):
    used = a_ticket.definition
    draft = process_definition_new_version(definition=used)
    superuser_client.post(
        reverse("admin:core_processdefinition_changelist"), {"action": "activate", "_selected_action": [str(draft.pk)]}
    )
    used.refresh_from_db()
    assert used.active is False
    url = reverse("admin:core_processdefinition_change", args=[used.pk])
    assert 'name="name"' not in superuser_client.get(url).content.decode()
    assert superuser_client.post(url, definition_post_data(used)).status_code == 403
    delete_url = reverse("admin:core_processdefinition_delete", args=[used.pk])
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
