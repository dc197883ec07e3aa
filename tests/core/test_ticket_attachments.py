"""Attachments on the staff ticket page: upload, list and download through HTTP, and what is refused."""
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import Channel, Ticket, TicketEvent
from core.models.tickets import TicketAttachment
from core.services.tickets import ATTACHMENT_MAX_BYTES, ticket_open
from tests import ticket_factories
from tests.factories import AccountFactory, BranchFactory, ServiceStationFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def viewer(user):
    user.user_permissions.add(Permission.objects.get(codename="view_ticket", content_type__app_label="core"))
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def world():
    branch = BranchFactory(name="恩施市")
    ticket_factories.sample_process()
    account = AccountFactory(station=ServiceStationFactory(branch=branch), name="王小明")
    agent = viewer(ticket_factories.staff_user("agent", branch, username="agent1", last_name="李", first_name="娜"))
    ticket = ticket_open(
        business_type=ticket_factories.TEST_BUSINESS_TYPE, channel=Channel.AGENT, summary="电能表走得太快",
        account=account, opened_by=agent,
    )
    return {"branch": branch, "agent": agent, "ticket": ticket}


def page(ticket) -> str:
    return f"/staff/tickets/{ticket.number}/"


def upload_url(ticket) -> str:
    return f"/staff/tickets/{ticket.number}/attachments/"


def stored_files(settings) -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_the_current_steps_worker_uploads_a_pdf_and_it_is_listed_noted_and_downloadable(client, world, settings):
    client.force_login(world["agent"])

    response = client.post(
        upload_url(world["ticket"]), {"file": SimpleUploadedFile("检测报告.pdf", PDF, content_type="text/plain")}
    )

    assert response.status_code == 302
    assert response["Location"] == page(world["ticket"])
    attachment = TicketAttachment.objects.get()
    ticket = Ticket.objects.get(pk=world["ticket"].pk)
    assert (attachment.ticket_id, attachment.step_id) == (ticket.pk, ticket.current_step_id)
    assert (attachment.name, attachment.size, attachment.uploaded_by) == ("检测报告.pdf", len(PDF), world["agent"])
    # The stored type is ours, not the browser's claim; the stored name is random, the person's name kept apart.
    assert attachment.content_type == "application/pdf"
    assert attachment.file.name.startswith("tickets/") and attachment.file.name.endswith(".pdf")
    assert "检测报告" not in attachment.file.name
    assert [path.read_bytes() for path in stored_files(settings)] == [PDF]
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.NOTE)
    assert event.public is False
    assert event.after["attachment"] == "检测报告.pdf"
    assert (event.actor, event.step_id, event.note) == (world["agent"], ticket.current_step_id, "上传附件：检测报告.pdf")

    shown = client.get(page(world["ticket"]))
    html = shown.content.decode()
    assert "已上传附件 检测报告.pdf" in html
    assert "检测报告.pdf" in html and "李娜" in html
    download = f"/staff/tickets/{ticket.number}/attachments/{attachment.pk}/"
    assert f'href="{download}"' in html

    response = client.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E6%A3%80%E6%B5%8B%E6%8A%A5%E5%91%8A.pdf" in response["Content-Disposition"]


def test_a_png_and_a_word_file_are_accepted(client, world):
    client.force_login(world["agent"])

    client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("现场照片.PNG", PNG)})
    client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("C:\\Users\\li\\申请表.docx", b"PK\x03\x04x")})

    assert list(TicketAttachment.objects.order_by("id").values_list("name", "content_type")) == [
        ("现场照片.PNG", "image/png"),
        ("申请表.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ]


def test_a_file_over_10_mb_is_refused_and_nothing_is_stored(client, world, settings):
    client.force_login(world["agent"])
    big = PDF + b"0" * (ATTACHMENT_MAX_BYTES + 1 - len(PDF))

    response = client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("大文件.pdf", big)})

    assert response.status_code == 400
    assert "文件不能超过 10 MB" in response.content.decode()
    assert not TicketAttachment.objects.exists()
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.NOTE).exists()
    assert stored_files(settings) == []


def test_exactly_10_mb_is_accepted(client, world):
    client.force_login(world["agent"])
    limit = PDF + b"0" * (ATTACHMENT_MAX_BYTES - len(PDF))

    assert client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("a.pdf", limit)}).status_code == 302
    assert TicketAttachment.objects.get().size == ATTACHMENT_MAX_BYTES


def test_a_program_renamed_pdf_is_refused_and_nothing_is_stored(client, world, settings):
    client.force_login(world["agent"])
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200

    response = client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("发票.pdf", program)})

    assert response.status_code == 400
    assert "文件内容与扩展名“.pdf”不符" in response.content.decode()
    assert not TicketAttachment.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("setup.exe", b"MZ\x90\x00", "只能上传 PDF、JPG、PNG、Word（doc/docx）或 Excel（xls/xlsx）文件"),
        ("没有扩展名", PDF, "只能上传 PDF、JPG、PNG、Word（doc/docx）或 Excel（xls/xlsx）文件"),
        ("照片.jpg", PNG, "文件内容与扩展名“.jpg”不符"),
        ("表格.xls", b"MZ\x90\x00" + b"\x00" * 20, "文件内容与扩展名“.xls”不符"),
        ("空.pdf", b"", "文件是空的"),
    ],
)
def test_other_wrong_files_are_refused_with_the_reason(client, world, settings, name, content, message):
    client.force_login(world["agent"])

    response = client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile(name, content)})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TicketAttachment.objects.exists()
    assert stored_files(settings) == []


def test_no_file_chosen_is_refused(client, world):
    client.force_login(world["agent"])

    response = client.post(upload_url(world["ticket"]), {})

    assert response.status_code == 400
    assert "请选择要上传的文件" in response.content.decode()


def test_staff_of_the_branch_without_the_steps_post_cannot_upload(client, world, settings):
    clerk = viewer(ticket_factories.staff_user("counter_clerk", world["branch"]))
    client.force_login(clerk)

    assert 'enctype="multipart/form-data"' not in client.get(page(world["ticket"])).content.decode()
    response = client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("a.pdf", PDF)}, follow=True)

    assert "您没有办理该工单环节的权限" in response.content.decode()
    assert not TicketAttachment.objects.exists()
    assert stored_files(settings) == []


def test_a_supervisor_of_any_branch_may_upload(client, world):
    client.force_login(viewer(ticket_factories.supervisor_user(BranchFactory())))

    assert client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 302
    assert TicketAttachment.objects.count() == 1


@pytest.fixture
def filed(client, world):
    client.force_login(world["agent"])
    client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("身份证.jpg", b"\xff\xd8\xff\xe0" + b"1" * 30)})
    client.logout()
    attachment = TicketAttachment.objects.get()
    return f"/staff/tickets/{world['ticket'].number}/attachments/{attachment.pk}/"


def test_staff_of_another_branch_cannot_download(client, filed):
    client.force_login(viewer(ticket_factories.staff_user("agent", BranchFactory(name="利川市"))))

    assert client.get(filed).status_code == 403


def test_a_customer_cannot_download_or_upload(client, world, filed):
    client.force_login(get_user_model().objects.create_user("customer", password="pw"))

    assert client.get(filed).status_code == 403
    assert client.post(upload_url(world["ticket"]), {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 403
    assert TicketAttachment.objects.count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client, filed):
    response = client.get(filed)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_attachment_is_only_found_under_its_own_ticket(client, world, filed):
    other = ticket_open(
        business_type=ticket_factories.TEST_BUSINESS_TYPE, channel=Channel.AGENT, summary="另一张工单",
        branch=world["branch"], opened_by=world["agent"],
    )
    client.force_login(world["agent"])
    attachment_id = filed.rstrip("/").rsplit("/", 1)[1]

    assert client.get(f"/staff/tickets/{other.number}/attachments/{attachment_id}/").status_code == 404
    assert client.get(filed).status_code == 200
