"""The daily Stripe reconciliation stored for the staff pages (core.services.online_reconciliation), run through its
command against localstripe: each day is one row with the counts compared and its differences, both sides'
reference and amount on each; a re-run of the day replaces it; the JSON file is still written."""
from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.models import OnlineReconciliation, OnlineReconciliationDifference
from tests.portal.test_online_refunds import (
    charge_event,
    charge_id,
    outcome,
    paid_other_than_asked_and_credited_unpaid,
)
from tests.portal.test_payments import (
    credited_through_stripe,
    customer_with_arrears,
    event,
    intent_data,
    start_payment,
)

pytestmark = pytest.mark.django_db


def stored_differences(reconciliation: OnlineReconciliation) -> list[tuple]:
    return sorted(
        (d.kind, d.provider_reference, d.our_reference, d.online_payment_id, d.provider_amount, d.our_amount, d.note)
        for d in reconciliation.differences.all()
    )


def paid_at_stripe(stripe_client, online_payment) -> None:
    stripe_client.v1.payment_intents.update(online_payment.provider_reference, params={"payment_method": "pm_card_visa"})
    assert stripe_client.v1.payment_intents.confirm(online_payment.provider_reference).status == "succeeded"


def test_the_run_stores_the_day_with_both_sides_of_each_difference_and_a_rerun_replaces_it(
    client, stripe_on, stripe_client, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    stripe_on.flush()  # other tests' charges at the shared localstripe have no payment in this test's database
    secret = stripe_on.webhook_secret
    today = timezone.localdate()
    _account, refunded = credited_through_stripe(client, stripe_client, secret, "40.00")
    # Refunded in Stripe's dashboard; the webhook is lost.
    stripe_client.v1.refunds.create(params={"payment_intent": refunded.provider_reference, "amount": 1000})
    # Paid at Stripe; the success webhook never arrived.
    _user, second = customer_with_arrears(client, "20.00")
    lost = start_payment(client, second)
    paid_at_stripe(stripe_client, lost)
    # A charge we never created an intent for.
    stranger = stripe_client.v1.payment_intents.create(
        params={"amount": 3000, "currency": "cny", "payment_method": "pm_card_visa", "confirm": True}
    )
    stranger_charge = stranger.latest_charge["id"] if isinstance(stranger.latest_charge, dict) else stranger.latest_charge

    call_command("stripe_reconcile", day=today.isoformat())

    stored = OnlineReconciliation.objects.get()
    assert (stored.provider, stored.day, stored.charges, stored.payments, stored.refunds) == ("stripe", today, 3, 2, 1)
    first_run = stored.ran_at
    assert stored_differences(stored) == [
        ("not_credited", charge_id(stripe_client, lost), lost.provider_reference, lost.pk, D("20.00"), None,
         "20.00 created"),
        ("refund_mismatch", charge_id(stripe_client, refunded), refunded.provider_reference, refunded.pk, D("10.00"),
         D("0.00"), "stripe refunded 10.00, ledger reversed 0.00, ours succeeded"),
        ("unknown_charge", stranger_charge, "", None, D("30.00"), None, "30.00 cny"),
    ]
    # The JSON file other tools read is still written.
    kept = json.loads((tmp_path / "reconciliation" / f"stripe-{today.isoformat()}.json").read_text())
    assert len(kept["differences"]) == 3

    # The lost events arrive at last; the day is run again and its result replaced, not added to.
    assert outcome(client, charge_event(stripe_client, refunded), secret).startswith("reversed 10.00")
    assert outcome(client, event("payment_intent.succeeded", intent_data(lost)), secret) == "credited 20.00"
    call_command("stripe_reconcile", day=today.isoformat())

    again = OnlineReconciliation.objects.get()
    assert again.pk == stored.pk and again.ran_at > first_run
    assert (again.charges, again.payments, again.refunds) == (3, 2, 1)
    assert stored_differences(again) == [("unknown_charge", stranger_charge, "", None, D("30.00"), None, "30.00 cny")]
    assert OnlineReconciliationDifference.objects.count() == 1


def test_an_amount_mismatch_and_a_credit_without_a_charge_are_stored_with_both_amounts(client, stripe_on, stripe_client,
                                                                                       settings, tmp_path):
    settings.VAR_DIR = tmp_path
    stripe_on.flush()
    secret = stripe_on.webhook_secret
    changed, unpaid = paid_other_than_asked_and_credited_unpaid(client, stripe_client, secret)

    call_command("stripe_reconcile", day=timezone.localdate().isoformat())

    stored = OnlineReconciliation.objects.get()
    assert stored_differences(stored) == [
        ("amount_mismatch", charge_id(stripe_client, changed), changed.provider_reference, changed.pk, D("19.99"),
         D("20.00"), "stripe 19.99, ours 20.00"),
        ("credited_without_charge", "", unpaid.provider_reference, unpaid.pk, None, D("30.00"),
         "30.00, stripe requires_payment_method"),
    ]
