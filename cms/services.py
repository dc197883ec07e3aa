"""Setting up the public site's page tree."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.paginator import Page as PaginatorPage
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest
from wagtail.models import (
    GroupApprovalTask,
    GroupPagePermission,
    Locale,
    Page,
    Site,
    Workflow,
    WorkflowPage,
    WorkflowTask,
)

from cms.models import HomePage
from cms.search import search_annotate, search_snippet, search_terms_parse

HOME_TITLE = "国网95598供电服务"
HOME_INTRO = (
    "<p>电费查询、交费、用电业务办理、故障报修、投诉与建议，"
    "请拨打95598供电服务热线，7×24小时为您服务。</p>"
)


EDITORS_GROUP = "内容编辑"
APPROVERS_GROUP = "内容审核"
WORKFLOW_NAME = "内容发布审核"
APPROVAL_TASK_NAME = "内容审核员审批"
# Editors write and submit for moderation; approvers also publish. Granted on the home page (the whole site).
EDITOR_PAGE_PERMISSIONS = ("add_page", "change_page", "lock_page", "unlock_page")
APPROVER_PAGE_PERMISSIONS = ("add_page", "change_page", "publish_page", "lock_page", "unlock_page")


def cms_site_ensure() -> HomePage:
    """Make a HomePage the root of the default site, replacing Wagtail's welcome page, make sure every content
    language has its Locale, and set up moderation (idempotent).
    Locks the tree root (select_for_update) so two callers never add two home pages."""
    with transaction.atomic():
        for language_code, _name in settings.WAGTAIL_CONTENT_LANGUAGES:
            Locale.objects.get_or_create(language_code=language_code)
        root = Page.objects.select_for_update().get(depth=1)
        home = HomePage.objects.filter(depth=2).first()
        if home is None:
            home = root.add_child(
                instance=HomePage(title=HOME_TITLE, slug="95598", intro=HOME_INTRO, hotline="95598")
            )
            home.save_revision().publish()
        site = Site.objects.filter(is_default_site=True).first()
        if site is None:
            site = Site.objects.create(
                hostname="localhost", port=80, site_name="国网95598", root_page=home, is_default_site=True
            )
        previous_root_id = site.root_page_id
        if previous_root_id != home.pk:
            site.root_page = home
            site.save()
            _welcome_page_remove(page_id=previous_root_id)
        cms_moderation_ensure(home=home)
    return home


def cms_moderation_ensure(*, home: Page) -> Workflow:
    """Groups 内容编辑 (edit and submit, no publish) and 内容审核 (publish) with page permissions on `home`, and the
    workflow 内容发布审核 (one GroupApprovalTask for 内容审核) assigned to `home`. Idempotent, by names; any
    publish_page grant of 内容编辑 (anywhere in the tree) is removed so edits always go through moderation."""
    access_admin = Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    page_permissions = {
        p.codename: p
        for p in Permission.objects.filter(content_type__app_label="wagtailcore", codename__in=APPROVER_PAGE_PERMISSIONS)
    }
    with transaction.atomic():
        editors, _created = Group.objects.get_or_create(name=EDITORS_GROUP)
        approvers, _created = Group.objects.get_or_create(name=APPROVERS_GROUP)
        for group, codenames in ((editors, EDITOR_PAGE_PERMISSIONS), (approvers, APPROVER_PAGE_PERMISSIONS)):
            group.permissions.add(access_admin)
            for codename in codenames:
                GroupPagePermission.objects.get_or_create(group=group, page=home, permission=page_permissions[codename])
        GroupPagePermission.objects.filter(group=editors, permission__codename="publish_page").delete()

        task = GroupApprovalTask.objects.filter(name=APPROVAL_TASK_NAME).first()
        if task is None:
            task = GroupApprovalTask.objects.create(name=APPROVAL_TASK_NAME)
        task.groups.set([approvers])
        workflow, _created = Workflow.objects.get_or_create(name=WORKFLOW_NAME, defaults={"active": True})
        if not workflow.active:
            workflow.active = True
            workflow.save(update_fields=["active"])
        WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
        WorkflowPage.objects.update_or_create(page=home, defaults={"workflow": workflow})
    return workflow


def _welcome_page_remove(*, page_id: int) -> None:
    """Delete Wagtail's stock welcome page; any other page someone made stays."""
    page = Page.objects.filter(pk=page_id, depth=2, numchild=0).select_related("content_type").first()
    if page is not None and page.content_type.model_class() is Page:
        page.delete()


@dataclass(frozen=True)
class SearchHit:
    """One site-search result as the template shows it."""

    title: str
    url: str
    type_name: str
    snippet: str


@dataclass(frozen=True)
class SearchResults:
    """A page of site-search results plus the paginator's page (for the pagination links)."""

    hits: list[SearchHit]
    page: PaginatorPage | None
    total: int


SEARCH_RESULTS_PER_PAGE = 10


def site_search(*, query: str, page_number: str | int | None, request: HttpRequest | None = None) -> SearchResults:
    """Live pages of the active locale matching `query` (Chinese-aware, see cms.search), best first, paginated.
    An empty query gives no results; an overlong one raises SearchQueryTooLong; a bad page number shows the last
    or first page."""
    terms = search_terms_parse(query)
    if not terms:
        return SearchResults(hits=[], page=None, total=0)
    pages = search_annotate(
        Page.objects.live().public().filter(locale=Locale.get_active(), depth__gt=1).select_related("content_type"),
        terms=terms,
    )
    paginator = Paginator(pages, SEARCH_RESULTS_PER_PAGE)
    page = paginator.get_page(page_number)
    hits = [
        SearchHit(
            title=result.title,
            url=result.get_url(request=request) or "",
            type_name=str(result.specific_class._meta.verbose_name) if result.specific_class else "",
            snippet=search_snippet(text=result.search_body, terms=terms),
        )
        for result in page.object_list
    ]
    return SearchResults(hits=hits, page=page, total=paginator.count)
