"""Moderation: editors (内容编辑) submit changes to the 内容发布审核 workflow and cannot publish; approvers (内容审核)
approve and the change goes live; scheduled publishing (cms.publish_scheduled) publishes at go-live time."""
import datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Page, Revision, WorkflowPage
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

from cms.models import HomePage, StandardPage
from cms.services import cms_moderation_ensure, cms_site_ensure
from cms.tasks import publish_scheduled

pytestmark = pytest.mark.django_db


@pytest.fixture
def home():
    return cms_site_ensure()


def _user(django_user_model, *, name, group):
    user = django_user_model.objects.create_user(username=name, password="x")
    user.groups.add(Group.objects.get(name=group))
    return user


def _home_form(*, title, action):
    return nested_form_data(
        {
            "title": title,
            "slug": "95598",
            "intro": rich_text("<p>导语</p>"),
            "hotline": "95598",
            "notices_shown": 6,
            "comments": inline_formset([]),
            action: "1",
        }
    )


def test_groups_and_workflow_are_set_up_once(home):
    workflow = cms_moderation_ensure(home=home)
    cms_moderation_ensure(home=home)
    assert WorkflowPage.objects.get(page=home).workflow == workflow
    assert workflow.name == "内容发布审核" and workflow.active
    [task] = [t.specific for t in workflow.tasks.all()]
    assert [g.name for g in task.groups.all()] == ["内容审核"]
    editors = Group.objects.get(name="内容编辑")
    assert set(editors.page_permissions.filter(page=home).values_list("permission__codename", flat=True)) == {
        "add_page", "change_page", "lock_page", "unlock_page",
    }
    assert not editors.page_permissions.filter(permission__codename="publish_page").exists()
    approvers = Group.objects.get(name="内容审核")
    assert "publish_page" in set(approvers.page_permissions.values_list("permission__codename", flat=True))


def test_an_editor_submits_for_moderation_and_an_approver_publishes(client, home, django_user_model):
    editor = _user(django_user_model, name="editor", group="内容编辑")
    approver = _user(django_user_model, name="approver", group="内容审核")
    client.force_login(editor)
    edit_url = reverse("wagtailadmin_pages:edit", args=[home.pk])
    response = client.post(edit_url, _home_form(title="国网恩施95598", action="action-submit"))
    assert response.status_code == 302
    home.refresh_from_db()
    assert (home.title, home.has_unpublished_changes) == ("国网95598供电服务", True)
    state = home.current_workflow_state
    assert (state.status, state.workflow.name, state.requested_by) == ("in_progress", "内容发布审核", editor)

    # The editor's "publish" is not honoured: nothing goes live without approval.
    client.post(edit_url, _home_form(title="编辑直接发布", action="action-publish"))
    home.refresh_from_db()
    assert home.title == "国网95598供电服务"
    client.logout()
    assert "国网恩施95598" not in client.get("/").content.decode()

    client.force_login(approver)
    task_state = home.current_workflow_task_state
    response = client.post(
        reverse("wagtailadmin_pages:workflow_action", args=[home.pk, "approve", task_state.pk]), {"comment": ""}
    )
    assert response.status_code in (200, 302)
    home.refresh_from_db()
    assert home.live and not home.has_unpublished_changes
    assert home.current_workflow_state is None
    assert home.title == Page.objects.get(pk=home.pk).title
    client.logout()
    assert f"<h1 class=\"hero__title\">{home.title}</h1>" in client.get("/").content.decode()


def test_scheduled_page_goes_live_when_the_task_runs(client, home):
    page = home.add_child(instance=StandardPage(title="春节供电安排", slug="spring", live=False, body=[]))
    page.go_live_at = timezone.now() + datetime.timedelta(hours=1)
    revision = page.save_revision()
    revision.publish()
    page.refresh_from_db()
    assert not page.live
    assert client.get("/spring/").status_code == 404

    publish_scheduled()  # not yet due
    page.refresh_from_db()
    assert not page.live

    # The clock passes the go-live time (the revision's own go_live_at and its approval move into the past).
    past = timezone.now() - datetime.timedelta(seconds=1)
    revision.content["go_live_at"] = past.isoformat()
    revision.approved_go_live_at = past
    revision.save(update_fields=["content", "approved_go_live_at"])
    publish_scheduled()
    page.refresh_from_db()
    assert page.live
    assert client.get("/spring/").status_code == 200


def test_expired_page_is_unpublished_when_the_task_runs(home):
    page = home.add_child(instance=StandardPage(title="临时通知", slug="temp", body=[]))
    page.save_revision().publish()
    StandardPage.objects.filter(pk=page.pk).update(expire_at=timezone.now() - datetime.timedelta(minutes=1))
    publish_scheduled()
    page.refresh_from_db()
    assert (page.live, page.expired) == (False, True)
    assert isinstance(HomePage.objects.get(), HomePage)
