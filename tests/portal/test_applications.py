"""The applications wizard: type and account, the type's own fields (from the process definition's accept step,
checked as the back office checks them), documents stored privately and served only to the owner and staff, a
summary, and a ticket number after submission."""
from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import BusinessType, Channel, Ticket
from core.models.tickets import TicketAttachment
from core.selectors.portal_tickets import APPLICATION_TYPES
from core.services.portal_requests import DRAFT_FOLDER, application_submit
from core.workflows.materials import application_materials, materials_missing_now
from tests.factories import AccountFactory, BranchFactory
from tests.portal.factories import AccountBindingFactory, PortalUserFactory
from tests.ticket_factories import supervisor_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


def _pdf(name="身份证复印件.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def _drafts() -> list[str]:
    folder = os.path.join(settings.PRIVATE_MEDIA_ROOT, DRAFT_FOLDER)
    return os.listdir(folder) if os.path.isdir(folder) else []


@pytest.fixture
def bound(client):
    binding = AccountBindingFactory(account=AccountFactory(contracted_capacity_kva=Decimal("8.00")))
    client.force_login(binding.user)
    return binding


def _start(client, **data):
    return client.post(reverse("portal:apply"), data)


def test_name_change_through_all_four_steps_gives_a_ticket_number_and_files_the_document(
    client, bound, django_capture_on_commit_callbacks
):
    account = bound.account
    response = _start(client, business_type=BusinessType.NAME_CHANGE, account=account.number)
    assert response.status_code == 302 and response["Location"] == reverse("portal:apply_details")

    page = client.get(reverse("portal:apply_details"))
    assert "新户名" in page.content.decode()
    assert "documents_complete" not in page.content.decode()  # staff confirm that themselves
    response = client.post(reverse("portal:apply_details"), {
        "new_name": "王小明", "contact_name": "王大明", "contact_phone": "13900001111", "description": "继承",
    })
    assert response["Location"] == reverse("portal:apply_documents")

    response = client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": _pdf()})
    assert response.status_code == 302
    assert len(_drafts()) == 1
    assert "身份证复印件.pdf" in client.get(reverse("portal:apply_documents")).content.decode()

    summary = client.get(reverse("portal:apply_summary")).content.decode()
    for text in ("更名", account.number, "新户名", "王小明", "王大明", "13900001111", "身份证复印件.pdf"):
        assert text in summary

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:apply_summary"))
    ticket = Ticket.objects.get()
    assert response["Location"] == reverse("portal:apply_done", args=[ticket.number])
    done = client.get(response["Location"]).content.decode()
    assert ticket.number in done
    assert (ticket.business_type, ticket.channel, ticket.opened_by, ticket.account) == (
        BusinessType.NAME_CHANGE, Channel.PORTAL, bound.user, account)
    assert ticket.data == {"new_name": "王小明"}
    assert (ticket.contact_name, ticket.contact_phone, ticket.description) == ("王大明", "13900001111", "继承")
    attachment = TicketAttachment.objects.get(ticket=ticket)
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "户主或经办人有效身份证明-身份证复印件.pdf", "application/pdf", len(PDF))
    stored = os.path.join(settings.PRIVATE_MEDIA_ROOT, attachment.file.name)
    assert open(stored, "rb").read() == PDF
    assert _drafts() == []  # moved out of the drafts folder once filed
    assert "portal_apply" not in client.session


def test_a_type_that_needs_an_account_refuses_without_one(client, bound):
    response = _start(client, business_type=BusinessType.SUSPENSION)
    assert response.status_code == 200
    assert "该业务须选择已绑定的户号" in response.content.decode()
    assert "portal_apply" not in client.session


def test_someone_elses_account_is_not_a_choice(client, bound):
    other = AccountFactory()
    response = _start(client, business_type=BusinessType.NAME_CHANGE, account=other.number)
    assert response.status_code == 200
    assert "portal_apply" not in client.session


def test_new_connection_without_an_account_goes_to_the_chosen_county(client, bound):
    branch = BranchFactory()
    _start(client, business_type=BusinessType.LV_RESIDENTIAL_CONNECTION, branch=branch.pk)
    response = client.post(reverse("portal:apply_details"), {
        "applicant_name": "李四", "supply_address": "恩施市金桂大道8号", "requested_capacity_kva": "8",
        "contact_name": "李四", "contact_phone": "0718-8221234",
    })
    assert response["Location"] == reverse("portal:apply_documents")
    client.post(reverse("portal:apply_documents"), {"material": "identity", "file": _pdf()})
    client.post(reverse("portal:apply_documents"), {"next": "1"})
    client.post(reverse("portal:apply_summary"))
    ticket = Ticket.objects.get()
    assert (ticket.branch, ticket.account, ticket.address) == (branch, None, "恩施市金桂大道8号")
    assert ticket.data == {"applicant_name": "李四", "supply_address": "恩施市金桂大道8号", "requested_capacity_kva": "8"}


def test_the_fields_are_checked_as_the_back_office_checks_them(client, bound):
    _start(client, business_type=BusinessType.CAPACITY_INCREASE, account=bound.account.number)
    response = client.post(reverse("portal:apply_details"), {
        "new_capacity_kva": "6", "contact_name": "张三", "contact_phone": "12345",
    })
    body = response.content.decode()
    assert response.status_code == 200
    assert "增容后容量须大于现有合同容量8.00 kVA" in body
    assert "请输入有效的电话号码" in body
    response = client.post(reverse("portal:apply_details"), {"contact_name": "张三", "contact_phone": "13900001111"})
    assert "此项为必填项" in response.content.decode()
    # Nothing gets past step 2 until it is right.
    assert client.get(reverse("portal:apply_summary"))["Location"] == reverse("portal:apply_details")
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("virus.exe", b"MZ\x90\x00", content_type="application/pdf"), "只能上传 PDF"),
        (SimpleUploadedFile("fake.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf"), "文件内容与扩展名"),
        (SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), content_type="application/pdf"),
         "文件不能超过 10 MB"),
    ],
)
def test_wrong_type_or_too_large_uploads_are_refused_and_not_stored(client, bound, upload, message):
    _start(client, business_type=BusinessType.NAME_CHANGE, account=bound.account.number)
    client.post(reverse("portal:apply_details"), {
        "new_name": "王小明", "contact_name": "王大明", "contact_phone": "13900001111",
    })
    response = client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": upload})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert _drafts() == []


def test_a_removed_upload_is_deleted(client, bound):
    _start(client, business_type=BusinessType.NAME_CHANGE, account=bound.account.number)
    client.post(reverse("portal:apply_details"), {
        "new_name": "王小明", "contact_name": "王大明", "contact_phone": "13900001111",
    })
    client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": _pdf()})
    client.post(reverse("portal:apply_documents"), {"remove": "0"})
    assert _drafts() == []
    assert client.session["portal_apply"]["documents"] == []
    assert "<dd>未上传</dd>" in client.get(reverse("portal:apply_summary")).content.decode()


@pytest.mark.parametrize("remove", ["²", "٣", "1", "-0", "0x0", "9" * 5000, ""], ids=["superscript", "arabic-indic", "past-the-end", "signed", "hex", "huge", "empty"])
def test_a_remove_that_names_no_upload_changes_nothing(client, bound, remove):
    _start(client, business_type=BusinessType.NAME_CHANGE, account=bound.account.number)
    client.post(reverse("portal:apply_details"), {
        "new_name": "王小明", "contact_name": "王大明", "contact_phone": "13900001111",
    })
    client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": _pdf()})
    response = client.post(reverse("portal:apply_documents"), {"remove": remove})
    assert response.status_code == 302
    assert len(_drafts()) == 1
    assert len(client.session["portal_apply"]["documents"]) == 1


def test_submitting_twice_makes_one_ticket(client, bound):
    _start(client, business_type=BusinessType.NAME_CHANGE, account=bound.account.number)
    client.post(reverse("portal:apply_details"), {
        "new_name": "王小明", "contact_name": "王大明", "contact_phone": "13900001111",
    })
    client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": _pdf()})
    key = client.session["portal_apply"]["key"]
    client.post(reverse("portal:apply_summary"))
    again = client.post(reverse("portal:apply_summary"))
    assert again["Location"] == reverse("portal:apply")
    assert Ticket.objects.count() == 1
    same = application_submit(
        user=bound.user, business_type=BusinessType.NAME_CHANGE, account=bound.account, branch=None,
        answers={"new_name": "王小明"}, contact={"contact_name": "王大明", "contact_phone": "13900001111"},
        description="", documents=[], idempotency_key=key,
    )
    assert same == Ticket.objects.get()


def test_the_wizard_needs_a_login(client):
    response = client.get(reverse("portal:apply"))
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL)


def _filed_ticket(client, bound) -> tuple[Ticket, TicketAttachment]:
    _start(client, business_type=BusinessType.NAME_CHANGE, account=bound.account.number)
    client.post(reverse("portal:apply_details"), {
        "new_name": "王小明", "contact_name": "王大明", "contact_phone": "13900001111",
    })
    client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": _pdf()})
    client.post(reverse("portal:apply_summary"))
    ticket = Ticket.objects.get()
    return ticket, TicketAttachment.objects.get(ticket=ticket)


def test_documents_are_served_to_the_owner_and_staff_only(client, bound):
    ticket, attachment = _filed_ticket(client, bound)
    url = reverse("portal:document_download", args=[ticket.number, attachment.pk])
    detail = client.get(reverse("portal:ticket_detail", args=[ticket.number])).content.decode()
    assert url in detail

    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")

    client.force_login(PortalUserFactory())
    assert client.get(url).status_code == 404
    client.force_login(AccountBindingFactory().user)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302

    client.force_login(supervisor_user())
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF

    # The file has no public URL at all.
    with pytest.raises(ValueError):
        attachment.file.url


# --- the papers each type asks for --------------------------------------------------------------------------------


def _name_change_details(client, bound):
    _start(client, business_type=BusinessType.NAME_CHANGE, account=bound.account.number)
    client.post(reverse("portal:apply_details"), {
        "new_name": "王小明", "contact_name": "王大明", "contact_phone": "13900001111",
    })


def test_the_documents_step_lists_the_types_papers_and_what_must_come_first(client, bound):
    _name_change_details(client, bound)
    page = client.get(reverse("portal:apply_documents")).content.decode()
    assert "所需材料" in page
    assert re.search(r"提交前须上传</span>\s*户主或经办人有效身份证明", page)
    assert re.search(r"可稍后补交</span>\s*更名依据", page)
    # The paper picker offers the type's papers and "other", nothing of another type.
    assert '<option value="holder_identity" selected>' in page and '<option value="other">' in page
    assert "business_licence" not in page

    client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": _pdf()})
    page = client.get(reverse("portal:apply_documents")).content.decode()
    assert re.search(r"✓ 已上传1份</span>\s*户主或经办人有效身份证明", page)
    assert '<option value="name_change_basis" selected>' in page  # the next paper still missing


def test_an_application_without_the_paper_needed_first_is_refused_until_it_is_uploaded(client, bound):
    _name_change_details(client, bound)
    client.post(reverse("portal:apply_documents"), {"material": "name_change_basis", "file": _pdf("户口簿.pdf")})
    response = client.post(reverse("portal:apply_summary"), follow=True)
    assert "提交前请上传：户主或经办人有效身份证明" in response.content.decode()
    assert Ticket.objects.count() == 0
    assert "portal_apply" in client.session  # nothing lost: the answers and the upload are kept

    client.post(reverse("portal:apply_documents"), {"material": "holder_identity", "file": _pdf()})
    response = client.post(reverse("portal:apply_summary"))
    ticket = Ticket.objects.get()
    assert response["Location"] == reverse("portal:apply_done", args=[ticket.number])
    assert sorted(TicketAttachment.objects.filter(ticket=ticket).values_list("name", flat=True)) == [
        "户主或经办人有效身份证明-身份证复印件.pdf", "更名依据（如工商变更登记、户口簿）-户口簿.pdf",
    ]


def test_a_paper_of_another_type_is_refused_and_nothing_stored(client, bound):
    _name_change_details(client, bound)
    response = client.post(reverse("portal:apply_documents"), {"material": "business_licence", "file": _pdf()})
    assert response.status_code == 200
    assert "选择一个有效的选项" in response.content.decode()
    assert _drafts() == []


def test_every_type_on_offer_but_the_meter_check_asks_for_a_paper_first():
    for business_type in APPLICATION_TYPES:
        needed_first = [m.label for m in materials_missing_now(business_type=business_type, codes_uploaded=set())]
        assert (needed_first == []) == (business_type == BusinessType.METER_ACCURACY_CHECK), business_type
        assert application_materials(business_type=business_type)[-1].code == "other"
