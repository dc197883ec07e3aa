"""Bill PDFs and payment receipts: real PDFs in the WQY CJK font with the bill's figures, only for the owner."""
from __future__ import annotations

import base64
import datetime
import re
import zlib
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Payment
from core.selectors.portal_bills import month_add
from core.services.payments import payment_post
from tests.portal.factories import AccountBindingFactory, billed_months, residential_policy

pytestmark = pytest.mark.django_db


def page_strings(pdf: bytes) -> list[bytes]:
    """The strings drawn on the pages (figures are drawn in Helvetica, so they read as plain text)."""
    strings = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, flags=re.S):
        try:
            # reportlab writes page streams as /ASCII85Decode /FlateDecode.
            content = zlib.decompress(base64.a85decode(match.group(1).strip(), adobe=True))
        except (ValueError, zlib.error):
            continue
        strings.extend(re.findall(rb"\((.*?)\) Tj", content))
    return strings


@pytest.fixture
def billed():
    residential_policy()
    binding = AccountBindingFactory()
    period = month_add(timezone.localdate().replace(day=1), -1)
    billed_months(binding.account, [D(320)], last_period=period, issued_on=timezone.localdate())
    return binding, f"{period:%Y%m}{binding.account.number}"


def test_a_bill_pdf_has_the_cjk_font_and_the_bill_figures(client, billed):
    binding, bill_number = billed
    client.force_login(binding.user)
    response = client.get(reverse("portal:bill_pdf", args=[binding.account.number, bill_number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="bill-{bill_number}.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert set(re.findall(rb"/BaseFont\s*/([^\s/]+)", pdf)) == {b"AAAAAA+WenQuanYiMicroHei-0", b"Helvetica"}
    strings = page_strings(pdf)
    for figure in (bill_number.encode(), b"180", b"0.558", b"\\245100.44", b"140", b"0.608", b"\\24585.12",
                   b"320", b"\\245185.56"):
        assert figure in strings, figure


def test_a_payment_receipt_shows_what_the_payment_settled(client, billed):
    binding, bill_number = billed
    payment = payment_post(
        account=binding.account, amount=D("200.00"), channel=Payment.Channel.COUNTER, idempotency_key="receipt-1",
        received_at=timezone.now() - datetime.timedelta(minutes=5), external_reference="POS-778",
    ).payment
    client.force_login(binding.user)
    response = client.get(reverse("portal:payment_receipt", args=[binding.account.number, payment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="receipt-{payment.pk}.pdf"'
    strings = page_strings(response.content)
    # 185.56 settles the bill, 14.44 stays as prepaid credit, 200.00 in all.
    for figure in (b"POS-778", b"\\245185.56", b"\\24514.44", b"\\245200.00"):
        assert figure in strings, figure


def test_pdfs_of_someone_elses_bill_or_payment_are_404(client, billed):
    binding, bill_number = billed
    stranger = AccountBindingFactory()
    payment = payment_post(
        account=binding.account, amount=D("10.00"), channel=Payment.Channel.COUNTER, idempotency_key="receipt-2",
        received_at=timezone.now(),
    ).payment
    client.force_login(stranger.user)
    number = binding.account.number
    assert client.get(reverse("portal:bill_pdf", args=[number, bill_number])).status_code == 404
    assert client.get(reverse("portal:payment_receipt", args=[number, payment.pk])).status_code == 404
    own = stranger.account.number
    assert client.get(reverse("portal:bill_pdf", args=[own, bill_number])).status_code == 404
    assert client.get(reverse("portal:payment_receipt", args=[own, payment.pk])).status_code == 404
    assert client.get(reverse("portal:bill_pdf", args=[own, "missing"])).status_code == 404
    client.logout()
    assert client.get(reverse("portal:bill_pdf", args=[number, bill_number])).status_code == 302
