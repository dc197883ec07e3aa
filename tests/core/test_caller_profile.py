"""The screen-pop's profile: who is calling, masked, with accounts, bills, outages, open tickets and the IVR path,
in a bounded number of queries."""
import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import Call, CallTransport, IdentifiedBy, Outage, OutageArea, OutageKind, Ticket
from core.selectors.caller_profile import caller_profile, email_mask, phone_mask
from core.services.outages import outage_restore
from core.services.tickets import ticket_open
from tests.factories import AccountFactory, CustomerFactory, ServicePointFactory
from tests.portal.factories import billed_months, residential_policy
from tests.ticket_factories import sample_process

pytestmark = pytest.mark.django_db


def _call(**fields) -> Call:
    defaults = {"transport": CallTransport.ASTERISK, "call_key": "1700000000.1", "caller_number": "13812345678",
                "dialled_number": "95598", "started_at": timezone.now()}
    return Call.objects.create(**{**defaults, **fields})


@pytest.fixture
def household():
    residential_policy()
    customer = CustomerFactory(name="张三丰", phone="13812345678", email="zhang@example.com",
                               id_number_masked="4228**********1234")
    first = AccountFactory(customer=customer, address="湖北省恩施市舞阳坝街道施州大道12号")
    second = AccountFactory(customer=customer, address="湖北省恩施市小渡船街道学院路3号")
    billed_months(first, [Decimal("100"), Decimal("120"), Decimal("150"), Decimal("90")],
                  last_period=datetime.date(2026, 10, 1), issued_on=datetime.date(2026, 11, 5))
    point = ServicePointFactory(account=second)
    now = timezone.now()
    outage = Outage.objects.create(
        branch=second.branch, kind=OutageKind.FAULT, title="学院路线路故障", reason="雷击",
        starts_at=now - datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=3),
        announced_at=now - datetime.timedelta(hours=1),
    )
    OutageArea.objects.create(outage=outage, transformer_area=point.transformer_area)
    sample_process()
    ticket = ticket_open(business_type="meter_accuracy_check", channel="portal", summary="电表走快", account=first)
    return customer, first, second, outage, ticket


def test_masks():
    assert phone_mask("13812345678") == "138****5678"
    assert phone_mask("87654321") == "876*4321"
    assert phone_mask("110") == "*10"
    assert email_mask("zhang@example.com") == "z***@example.com"


def test_an_identified_caller_pops_masked_with_accounts_bills_outages_and_open_tickets(
    household, django_assert_max_num_queries
):
    customer, first, second, outage, ticket = household
    call = _call(customer=customer, account=second, identified_by=IdentifiedBy.IVR_ENTRY,
                 ivr_path=[{"node": "language", "input": "1", "at": "2026-11-23T09:00:00+08:00"},
                           {"node": "main_menu", "input": "9", "at": "2026-11-23T09:00:05+08:00"}],
                 ivr_data={"account_number": second.number, "intent": "agent"})

    with django_assert_max_num_queries(8 + 5):
        profile = caller_profile(call=call)

    assert profile["customer"] == {
        "id": customer.pk, "kind": "person", "kind_label": "个人", "name_masked": "张**",
        "phone_masked": "138****5678", "email_masked": "z***@example.com", "id_number_masked": "4228**********1234",
    }
    assert profile["call"]["caller_number_masked"] == "138****5678"
    assert profile["call"]["identified_by_label"] == "语音输入户号"
    assert profile["call"]["ivr_path"] == [
        {"node": "language", "input": "1", "at": "2026-11-23T09:00:00+08:00"},
        {"node": "main_menu", "input": "9", "at": "2026-11-23T09:00:05+08:00"},
    ]
    assert profile["call"]["ivr_data"] == {"account_number": second.number, "intent": "agent"}
    # The account the caller keyed in comes first.
    assert [account["number"] for account in profile["accounts"]] == [second.number, first.number]
    keyed, billed = profile["accounts"]
    assert keyed["address_masked"] == "恩施市小渡船街道***"
    assert [item["title"] for item in keyed["outages"]] == ["学院路线路故障"]
    assert keyed["outages"][0]["in_progress"] is True
    assert keyed["bills"] == []
    assert [bill["period"] for bill in billed["bills"]] == ["2026-10", "2026-09", "2026-08"]
    first.refresh_from_db()
    assert billed["balance"] == f"{first.balance:.2f}"
    assert billed["arrears"] == f"{first.arrears:.2f}"
    assert billed["outages"] == []
    assert [(item["number"], item["state"]) for item in profile["tickets"]] == [(ticket.number, "open")]
    assert profile["tickets"][0]["timeline"][0]["text"] == f"您的计量异常申请已受理，工单号{ticket.number}"
    assert profile["candidates"] == []
    assert "张三丰" not in str(profile) and "13812345678" not in str(profile) and "施州大道12号" not in str(profile)


def test_an_outage_past_its_expected_end_stays_in_the_pop_marked_so_until_it_is_restored(household):
    customer, _first, second, outage, _ticket = household
    call = _call(customer=customer, account=second)
    overrun = outage.ends_at + datetime.timedelta(hours=2)

    [keyed, _billed] = caller_profile(call=call, now=outage.ends_at - datetime.timedelta(minutes=1))["accounts"]
    assert [(item["title"], item["in_progress"], item["past_expected_end"]) for item in keyed["outages"]] == [
        ("学院路线路故障", True, False)
    ]
    [keyed, _billed] = caller_profile(call=call, now=overrun)["accounts"]
    assert [(item["title"], item["in_progress"], item["past_expected_end"]) for item in keyed["outages"]] == [
        ("学院路线路故障", True, True)
    ]
    assert keyed["outages"][0]["ends_at"] == outage.ends_at.isoformat()

    outage_restore(outage=outage, restored_at=overrun, now=overrun)
    [keyed, _billed] = caller_profile(call=call, now=overrun)["accounts"]
    assert keyed["outages"] == []


def test_an_unknown_caller_gets_the_accounts_the_calling_number_matches(household):
    customer, first, second, _outage, _ticket = household
    profile = caller_profile(call=_call())
    assert profile["customer"] is None
    assert profile["accounts"] == [] and profile["tickets"] == []
    assert [candidate["account_number"] for candidate in profile["candidates"]] == sorted(
        [first.number, second.number]
    )
    assert {candidate["name_masked"] for candidate in profile["candidates"]} == {"张**"}


def test_closed_tickets_and_other_customers_stay_out(household):
    customer, first, _second, _outage, ticket = household
    Ticket.objects.filter(pk=ticket.pk).update(state=Ticket.State.CLOSED)
    stranger = AccountFactory()
    ticket_open(business_type="meter_accuracy_check", channel="portal", summary="别人的", account=stranger)
    profile = caller_profile(call=_call(customer=customer, account=first))
    assert profile["tickets"] == []
    assert stranger.number not in str(profile)
