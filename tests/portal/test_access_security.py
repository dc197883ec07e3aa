"""Security across the portal: another customer's account, bill, payment, ticket, document or message by id is a
404 (the same as an id that does not exist), an unbound account is gone, every POST is CSRF-checked (only the
signed Stripe webhook is exempt) and every rendered form carries its token, and the guessable guest doors are
rate-limited. Through the test client, against the URL names each area defines."""
import datetime
import re
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from core.models import (
    AccountBinding,
    BusinessType,
    Channel,
    CollectionPolicy,
    MeterReading,
    OnlinePayment,
    Payment,
    Ticket,
)
from core.models.customers import CustomerCategory
from core.models.tickets import TicketAttachment
from core.services.billing import bill_issue
from core.services.payments import payment_post
from core.services.readings import reading_record
from core.services.tickets import ticket_attachment_add, ticket_open
from notifications.models import InboxMessage
from tests.factories import AccountFactory, CustomerFactory, MeterFactory
from tests.portal.factories import AccountBindingFactory, PortalUserFactory, id_number_fields
from tests.ticket_factories import supervisor_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
CSRF_EXEMPT = {"portal:stripe_webhook"}  # verified by its Stripe signature instead


def _account_with_bill_and_payment(name: str, id_number: str, key: str):
    customer = CustomerFactory(name=name, **id_number_fields(id_number))
    account = AccountFactory(customer=customer, name=name)
    meter = MeterFactory(service_point__account=account)
    month_end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    reading_record(meter=meter, read_on=month_end, total="150", source=MeterReading.Source.MANUAL)
    bill = bill_issue(account=account, period=month_end.replace(day=1), issued_on=timezone.localdate())
    payment = payment_post(account=account, amount=D("100.00"), channel=Payment.Channel.COUNTER,
                           idempotency_key=key, received_at=timezone.now()).payment
    return account, bill, payment


@pytest.fixture
def world():
    CollectionPolicy.objects.update_or_create(
        category=CustomerCategory.RESIDENTIAL,
        defaults={"payment_term_days": 30, "daily_rate_current_year": D("0.0010"), "daily_rate_prior_years": D("0.0010")},
    )
    alice_account, alice_bill, alice_payment = _account_with_bill_and_payment("张三", "42280119800101123X", "a-1")
    bob_account, bob_bill, bob_payment = _account_with_bill_and_payment("李四", "422801198202025678", "b-1")
    alice = AccountBindingFactory(account=alice_account).user
    bob = AccountBindingFactory(account=bob_account).user

    # Alice files an application with a document through the wizard, as a customer would.
    owner = Client()
    owner.force_login(alice)
    owner.post(reverse("portal:apply"), {"business_type": BusinessType.NAME_CHANGE, "account": alice_account.number})
    owner.post(reverse("portal:apply_details"), {
        "new_name": "张小三", "contact_name": "张三", "contact_phone": "13900001111",
    })
    owner.post(reverse("portal:apply_documents"),
               {"material": "holder_identity",
                "file": SimpleUploadedFile("户口本.pdf", PDF, content_type="application/pdf")})
    summary = owner.post(reverse("portal:apply_summary"))
    assert summary.status_code == 302, summary.content.decode()[-2000:]
    ticket = Ticket.objects.get(account=alice_account)
    attachment = TicketAttachment.objects.get(ticket=ticket)
    message = InboxMessage.objects.create(customer=alice_account.customer, subject="电费账单已出", body="正文")
    return {
        "alice": alice, "bob": bob, "alice_account": alice_account, "bob_account": bob_account,
        "alice_bill": alice_bill, "bob_bill": bob_bill, "alice_payment": alice_payment, "bob_payment": bob_payment,
        "ticket": ticket, "attachment": attachment, "message": message,
    }


# (URL name, method, args from the world) of every page that names Alice's things.
ALICE_URLS = [
    ("portal:account_dashboard", "get", lambda w: [w["alice_account"].number]),
    ("portal:bill_list", "get", lambda w: [w["alice_account"].number]),
    ("portal:bill_detail", "get", lambda w: [w["alice_account"].number, w["alice_bill"].number]),
    ("portal:bill_pdf", "get", lambda w: [w["alice_account"].number, w["alice_bill"].number]),
    ("portal:payment_list", "get", lambda w: [w["alice_account"].number]),
    ("portal:payment_receipt", "get", lambda w: [w["alice_account"].number, w["alice_payment"].pk]),
    ("portal:binding_settings", "get", lambda w: [w["alice_account"].number]),
    ("portal:binding_settings", "post", lambda w: [w["alice_account"].number]),
    ("portal:binding_unbind", "get", lambda w: [w["alice_account"].number]),
    ("portal:binding_unbind", "post", lambda w: [w["alice_account"].number]),
    ("portal:preferences_save", "post", lambda w: [w["alice_account"].number]),
    ("portal:ticket_detail", "get", lambda w: [w["ticket"].number]),
    ("portal:ticket_rate", "post", lambda w: [w["ticket"].number]),
    ("portal:apply_done", "get", lambda w: [w["ticket"].number]),
    ("portal:document_download", "get", lambda w: [w["ticket"].number, w["attachment"].pk]),
    ("portal:inbox_message", "get", lambda w: [w["message"].pk]),
    ("portal:inbox_mark_read", "post", lambda w: [w["message"].pk]),
]
# Bob's own account in the address with Alice's bill or payment behind it.
MIXED_URLS = [
    ("portal:bill_detail", lambda w: [w["bob_account"].number, w["alice_bill"].number]),
    ("portal:bill_pdf", lambda w: [w["bob_account"].number, w["alice_bill"].number]),
    ("portal:payment_receipt", lambda w: [w["bob_account"].number, w["alice_payment"].pk]),
]


def _state(world) -> tuple:
    """What a refused request must not change."""
    return (
        list(AccountBinding.objects.order_by("pk").values_list("unbound_at", "label", "low_balance_threshold")),
        list(InboxMessage.objects.order_by("pk").values_list("read_at", flat=True)),
        list(Ticket.objects.order_by("pk").values_list("state", "satisfaction")),
    )


@pytest.mark.parametrize("name, method, args", ALICE_URLS, ids=[f"{n}-{m}" for n, m, _ in ALICE_URLS])
def test_the_owner_reaches_it_and_another_customer_gets_404_changing_nothing(client, world, name, method, args):
    url = reverse(name, args=args(world))
    client.force_login(world["alice"])
    if method == "get":
        assert client.get(url).status_code == 200
    client.force_login(world["bob"])
    before = _state(world)
    response = getattr(client, method)(url, {"label": "x", "low_balance_threshold": "99", "score": "5"})
    assert response.status_code == 404
    assert _state(world) == before


@pytest.mark.parametrize("name, args", MIXED_URLS, ids=[n for n, _ in MIXED_URLS])
def test_another_customers_bill_or_payment_under_ones_own_account_is_404(client, world, name, args):
    client.force_login(world["bob"])
    assert client.get(reverse(name, args=args(world))).status_code == 404
    own = [world["bob_account"].number, world["bob_bill"].number if "bill" in name else world["bob_payment"].pk]
    assert client.get(reverse(name, args=own)).status_code == 200


def test_someone_elses_id_and_a_missing_id_answer_alike(client, world):
    client.force_login(world["bob"])
    taken = client.get(reverse("portal:account_dashboard", args=[world["alice_account"].number]))
    missing = client.get(reverse("portal:account_dashboard", args=["9999999999"]))
    assert (taken.status_code, missing.status_code) == (404, 404)
    assert taken.content.replace(world["alice_account"].number.encode(), b"N") == missing.content.replace(
        b"9999999999", b"N"
    )
    for name, args in (("portal:ticket_detail", [world["ticket"].number]), ("portal:ticket_detail", ["T-NONE"])):
        assert client.get(reverse(name, args=args)).status_code == 404


def test_after_unbinding_the_account_pages_are_404(client, world):
    client.force_login(world["alice"])
    number = world["alice_account"].number
    assert client.post(reverse("portal:binding_unbind", args=[number])).status_code == 302
    for name, args in (
        ("portal:account_dashboard", [number]),
        ("portal:bill_detail", [number, world["alice_bill"].number]),
        ("portal:payment_receipt", [number, world["alice_payment"].pk]),
        ("portal:binding_settings", [number]),
        ("portal:inbox_message", [world["message"].pk]),
    ):
        assert client.get(reverse(name, args=args)).status_code == 404, name


def test_anonymous_visitors_are_sent_to_sign_in_and_see_nothing(client, world):
    for name, method, args in ALICE_URLS:
        response = getattr(client, method)(reverse(name, args=args(world)))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), name


# --- several people bound to one account ---------------------------------------------------------------------


def _ticket_numbers_listed(client) -> str:
    return client.get(reverse("portal:ticket_list")).content.decode()


def test_a_second_binder_sees_neither_the_first_binders_application_nor_its_document(client, world):
    """Alice's husband binds her account too: her name-change application, with her ID papers, stays hers."""
    husband = AccountBindingFactory(account=world["alice_account"]).user
    client.force_login(husband)
    ticket, attachment = world["ticket"], world["attachment"]
    assert ticket.number not in _ticket_numbers_listed(client)
    for name, args in (
        ("portal:ticket_detail", [ticket.number]),
        ("portal:apply_done", [ticket.number]),
        ("portal:document_download", [ticket.number, attachment.pk]),
    ):
        assert client.get(reverse(name, args=args)).status_code == 404, name
    # The account itself is his to see.
    assert client.get(reverse("portal:account_dashboard", args=[world["alice_account"].number])).status_code == 200


def _hotline_ticket_with_a_staff_document(account, *, customer):
    agent = supervisor_user()
    ticket = ticket_open(business_type=BusinessType.NAME_CHANGE, channel=Channel.AGENT, summary="来电申请更名",
                         customer=customer, account=account, contact_name="张三", contact_phone="13900001111",
                         data={"new_name": "张小三"}, opened_by=agent)
    attachment = ticket_attachment_add(
        ticket_id=ticket.pk, user=agent,
        uploaded_file=SimpleUploadedFile("现场照片.pdf", PDF, content_type="application/pdf"),
    )
    return ticket, attachment


def test_a_hotline_ticket_for_the_holder_is_shown_to_a_binder_but_not_the_documents_staff_filed(client, world):
    account = world["alice_account"]
    ticket, staff_document = _hotline_ticket_with_a_staff_document(account, customer=account.customer)
    client.force_login(world["alice"])
    assert ticket.number in _ticket_numbers_listed(client)
    page = client.get(reverse("portal:ticket_detail", args=[ticket.number]))
    assert page.status_code == 200
    assert "来电申请更名" in page.content.decode()
    assert "现场照片.pdf" not in page.content.decode()
    assert client.get(reverse("portal:document_download", args=[ticket.number, staff_document.pk])).status_code == 404
    # Her own document on her own application she still downloads.
    own = client.get(reverse("portal:document_download", args=[world["ticket"].number, world["attachment"].pk]))
    assert own.status_code == 200


def test_after_a_transfer_the_former_holders_tickets_stay_with_them(client, world):
    account = world["alice_account"]
    former_holder = account.customer
    ticket, _document = _hotline_ticket_with_a_staff_document(account, customer=former_holder)
    account.customer = CustomerFactory(name="王五")
    account.save(update_fields=["customer"])
    new_holder = AccountBindingFactory(account=account).user
    client.force_login(new_holder)
    assert ticket.number not in _ticket_numbers_listed(client)
    assert client.get(reverse("portal:ticket_detail", args=[ticket.number])).status_code == 404


# --- CSRF ----------------------------------------------------------------------------------------------------


def _portal_url_names() -> list[tuple[str, dict]]:
    """Every URL name of the portal namespace with kwargs that fit its pattern (the CSRF check runs before
    the view, so any value of the right shape will do)."""
    samples = {"int": 1, "account_number": "1000000016", "str": "x", "slug": "x", "path": "x", "uuid": None}
    found = []

    def walk(patterns, namespace, converters):
        for entry in patterns:
            entry_converters = {**converters, **getattr(entry.pattern, "converters", {})}
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, entry.namespace or namespace, entry_converters)
            elif isinstance(entry, URLPattern) and namespace == "portal" and entry.name:
                kwargs = {}
                for key, converter in entry_converters.items():
                    kind = {"IntConverter": "int", "StringConverter": "str", "SlugConverter": "slug",
                            "PathConverter": "path"}.get(type(converter).__name__, "account_number")
                    kwargs[key] = samples[kind]
                found.append((f"portal:{entry.name}", kwargs))

    walk(get_resolver().url_patterns, None, {})
    return found


def test_every_portal_post_is_csrf_checked_and_only_the_webhook_is_exempt(world):
    names = _portal_url_names()
    # The areas this file checks are all there (a renamed or dropped area would silently shrink the check).
    assert {"portal:binding_add", "portal:bill_lookup", "portal:ticket_track", "portal:apply",
            "portal:fault_report", "portal:complaint", "portal:inbox_mark_read", "portal:preferences_save",
            "portal:ticket_rate", "portal:pay_account", "portal:pay_confirm", "portal:stripe_webhook",
            } <= {name for name, _ in names}
    for who in (None, world["bob"]):
        browser = Client(enforce_csrf_checks=True)
        if who is not None:
            browser.force_login(who)
        before = _state(world)
        for name, kwargs in names:
            if name in CSRF_EXEMPT:
                continue
            response = browser.post(reverse(name, kwargs=kwargs), {"account_number": "1000000016"})
            assert response.status_code == 403, name
        assert _state(world) == before


FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
POST = re.compile(r"""method=["']?post""", re.I)


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_rendered_post_form_carries_the_csrf_token(client, world, signed_in):
    pages = ["portal:bill_lookup", "portal:ticket_track"]
    if signed_in:
        client.force_login(world["alice"])
        number = world["alice_account"].number
        pages = [
            *pages, "portal:dashboard", "portal:binding_list", "portal:binding_add", "portal:apply",
            "portal:fault_report", "portal:complaint", "portal:ticket_list", "portal:inbox", "portal:preferences",
            ("portal:binding_settings", [number]), ("portal:binding_unbind", [number]),
            ("portal:ticket_detail", [world["ticket"].number]), ("portal:account_dashboard", [number]),
        ]
    checked = 0
    for page in pages:
        name, args = page if isinstance(page, tuple) else (page, [])
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        for form in FORM.findall(response.content.decode()):
            if POST.search(form.split(">", 1)[0]):
                assert 'name="csrfmiddlewaretoken"' in form, (name, form[:200])
                checked += 1
    assert checked >= (2 if not signed_in else 10)


# --- guessing the guest doors --------------------------------------------------------------------------------


def test_guest_tracking_locks_an_address_after_repeated_misses(client, world):
    ticket, ip = world["ticket"], "198.51.100.77"
    url = reverse("portal:ticket_track")
    for _ in range(10):
        miss = client.post(url, {"number": ticket.number, "phone": "13000000000"}, REMOTE_ADDR=ip)
        assert miss.status_code == 200 and "timeline" not in miss.context
    locked = client.post(url, {"number": ticket.number, "phone": "13900001111"}, REMOTE_ADDR=ip)
    assert locked.status_code == 429 and "timeline" not in locked.context
    elsewhere = client.post(url, {"number": ticket.number, "phone": "13900001111"}, REMOTE_ADDR="198.51.100.78")
    assert elsewhere.status_code == 200 and "timeline" in elsewhere.context


def test_binding_and_lookup_guessing_from_one_address_is_locked_for_everyone_there(client, world):
    number, ip = world["alice_account"].number, "198.51.100.90"
    for _ in range(4):
        client.force_login(PortalUserFactory())
        for _ in range(5):
            client.post(reverse("portal:binding_add"), {
                "account_number": number, "holder_name": "张三", "method": "id_digits", "id_last4": "0000",
            }, REMOTE_ADDR=ip)
    client.force_login(world["bob"])
    right = {"account_number": number, "holder_name": "张三", "method": "id_digits", "id_last4": "123X"}
    response = client.post(reverse("portal:binding_add"), right, REMOTE_ADDR=ip)
    assert str(response.context["form"].non_field_errors()[0]).startswith("尝试次数过多")
    assert not AccountBinding.objects.filter(user=world["bob"], account=world["alice_account"]).exists()
    client.logout()
    for _ in range(5):
        client.post(reverse("portal:bill_lookup"), {"account_number": number, "holder_name": "王五"},
                    REMOTE_ADDR="198.51.100.91")
    guest = client.post(reverse("portal:bill_lookup"), {"account_number": number, "holder_name": "张三"},
                        REMOTE_ADDR="198.51.100.91")
    assert guest.context["summary"] is None
    assert str(guest.context["form"].non_field_errors()[0]).startswith("尝试次数过多")


# --- online payments ---------------------------------------------------------------------------------------------


def _online_payment(account, user, reference):
    return OnlinePayment.objects.create(
        provider_reference=reference, account=account, user=user, purpose="arrears", amount=D("33.70"),
        created_at=timezone.now(),
    )


def test_another_customers_online_payment_is_404_in_every_payment_page(client, world):
    alice_payment = _online_payment(world["alice_account"], world["alice"], "pi_alice")
    bob_payment = _online_payment(world["bob_account"], world["bob"], "pi_bob")
    alice_number, bob_number = world["alice_account"].number, world["bob_account"].number
    client.force_login(world["alice"])
    assert client.get(reverse("portal:pay_status", args=[alice_number, alice_payment.pk])).status_code == 200
    client.force_login(world["bob"])
    assert client.get(reverse("portal:pay_account", args=[alice_number])).status_code == 404
    assert client.post(reverse("portal:pay_account", args=[alice_number]), {"amount": "10"}).status_code == 404
    for number, online_payment in ((alice_number, alice_payment), (bob_number, alice_payment),
                                   (alice_number, bob_payment)):
        for name in ("portal:pay_checkout", "portal:pay_status"):
            assert client.get(reverse(name, args=[number, online_payment.pk])).status_code == 404, name
        confirm = client.post(reverse("portal:pay_confirm", args=[number, online_payment.pk]), {"token": "tok_visa"})
        assert confirm.status_code == 404
    alice_payment.refresh_from_db()
    assert alice_payment.state == "created"
