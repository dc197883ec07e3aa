"""The demo website seed_demo builds: the page tree, published through revisions, idempotent, readable over HTTP."""
from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from wagtail.models import Locale, Page, PageLogEntry, Revision

from cms.models import (
    HomePage,
    KnowledgeArticlePage,
    NewsCategory,
    NewsPage,
    OutageNoticePage,
    OutletPage,
    PolicyPage,
    SectionPage,
    StandardPage,
    SurveyPage,
    TariffPage,
)
from core.models import Account, Branch, Outage, OutageState
from notifications.models import Event, Message

pytestmark = pytest.mark.django_db
CUSTOMERS = 24


@pytest.fixture
def seeded() -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=str(CUSTOMERS), stdout=out)
    return out.getvalue()


def test_seed_demo_builds_the_site_tree_with_progress_lines(seeded):
    assert "网站 栏目与内容页：新建 12 个，已有 0 个" in seeded
    assert "网站 法规政策：新建 6 个，已有 0 个" in seeded
    assert "网站 知识库：新建 21 个，已有 0 个" in seeded
    assert "网站 营业厅：新建 9 个，已有 0 个" in seeded
    home = HomePage.objects.get(locale__language_code="zh-hans")
    menu = list(home.get_children().live().in_menu().values_list("title", flat=True))
    assert menu == ["走进我们", "服务指南", "安全用电", "节约用电", "法规政策", "电价", "新闻公告", "知识库", "营业厅",
                    "停电公告"]
    assert SectionPage.objects.filter(locale=home.locale).count() == 4
    assert StandardPage.objects.filter(locale=home.locale).count() == 8
    assert PolicyPage.objects.count() == 5
    assert PolicyPage.objects.filter(repealed_on__isnull=False).count() == 1
    assert NewsPage.objects.count() == 8
    assert NewsCategory.objects.get(slug="notices").is_notice
    assert KnowledgeArticlePage.objects.count() == 20
    assert OutletPage.objects.count() == 8
    assert set(OutletPage.objects.values_list("branch__code", flat=True)) == set(
        Branch.objects.values_list("code", flat=True)
    )
    assert sorted(SurveyPage.objects.values_list("kind", "one_response_per_customer")) == [
        ("market_survey", False), ("opinion", True),
    ]
    tariff_page = TariffPage.objects.get(locale=home.locale)
    assert list(tariff_page.tariffs.values_list("tariff__code", flat=True))[:2] == ["res-tiered", "res-tiered-tou"]
    assert OutageNoticePage.objects.filter(locale=home.locale).count() == 5


def test_every_demo_page_is_live_and_published_through_a_revision(seeded):
    pages = Page.objects.filter(depth__gt=1)
    assert pages.count() > 60
    assert list(pages.filter(live=False)) == []
    for page in pages:
        assert page.live_revision_id is not None, page.title
        assert Revision.page_revisions.filter(object_id=str(page.pk)).exists()
    assert PageLogEntry.objects.filter(action="wagtail.publish").count() >= pages.count()


def test_running_again_creates_nothing(seeded):
    pages, revisions, outages = Page.objects.count(), Revision.objects.count(), Outage.objects.count()
    out = io.StringIO()
    call_command("seed_demo", customers=str(CUSTOMERS), stdout=out)
    assert "网站 栏目与内容页：新建 0 个，已有 12 个" in out.getvalue()
    assert (Page.objects.count(), Revision.objects.count(), Outage.objects.count()) == (pages, revisions, outages)


def test_english_translations_of_the_key_pages(seeded, client):
    english = Locale.objects.get(language_code="en")
    home = HomePage.objects.get(locale__language_code="zh-hans")
    titles = dict(Page.objects.filter(locale=english).values_list("translation_key", "title"))
    assert titles[home.translation_key] == "State Grid 95598 Power Supply Service"
    assert titles[TariffPage.objects.get(locale=home.locale).translation_key] == "Electricity tariffs"
    response = client.get("/en/about/company-profile/")
    assert response.status_code == 200
    assert "Enshi Power Supply Company builds, runs and serves the grid" in response.content.decode()
    response = client.get("/about/company-profile/")
    assert "恩施供电公司负责恩施土家族苗族自治州八个县市" in response.content.decode()


def test_outage_notices_announce_core_outages_through_publishing(django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", customers=str(CUSTOMERS), stdout=out)
    assert "5 个停电公告已发布到停电信息" in out.getvalue()
    assert "未能发布" not in out.getvalue()
    branch = Branch.objects.order_by("code").first()
    notices = OutageNoticePage.objects.filter(locale__language_code="zh-hans").select_related("outage")
    assert {n.outage.source_key for n in notices} == {f"cms:{n.translation_key}" for n in notices}
    assert {n.outage.branch_id for n in notices} == {branch.pk}
    kinds = sorted((n.outage.kind, n.outage.state) for n in notices)
    assert kinds == [
        ("planned", OutageState.ANNOUNCED), ("planned", OutageState.ANNOUNCED), ("planned", OutageState.ANNOUNCED),
        ("planned", OutageState.RESTORED), ("temporary", OutageState.ANNOUNCED),
    ]
    assert Outage.objects.count() == 5
    # The English translation of a notice is the same outage, not a second one.
    english = OutageNoticePage.objects.get(locale__language_code="en")
    assert english.live
    assert english.outage == OutageNoticePage.objects.get(
        locale__language_code="zh-hans", translation_key=english.translation_key
    ).outage
    # Every affected customer was asked to be told once per announced outage; nobody about the restored one ahead.
    for notice in notices:
        outage = notice.outage
        customers = set(Account.objects.filter(
            service_points__transformer_area__outage_areas__outage=outage
        ).values_list("customer_id", flat=True))
        assert outage.affected_accounts == len(customers) > 0
        planned = set(Message.objects.filter(
            event=Event.OUTAGE_PLANNED, idempotency_key__startswith=f"outage:{outage.pk}:"
        ).values_list("recipient_customer_id", flat=True))
        assert planned == (set() if outage.state == OutageState.RESTORED else customers)
    restored = Outage.objects.get(state=OutageState.RESTORED)
    assert restored.restored_at < restored.ends_at < timezone.now()
    assert restored.announced_at <= restored.starts_at - datetime.timedelta(days=7)


def test_an_account_finds_its_outages_on_the_notice_index(seeded, client):
    first_branch = Branch.objects.order_by("code").first()
    account = Account.objects.filter(branch=first_branch).order_by("number").first()
    response = client.get("/outages/", {"account": account.number})
    assert response.status_code == 200
    html = response.content.decode()
    affecting = OutageNoticePage.objects.filter(
        locale__language_code="zh-hans", outage__state=OutageState.ANNOUNCED,
        outage__areas__transformer_area__service_points__account=account,
    ).distinct()
    assert affecting.count() >= 3
    for notice in affecting:
        assert notice.title in html
    assert "线路改造停电公告（已恢复送电）" not in html
    elsewhere = Account.objects.exclude(branch=first_branch).order_by("number").first()
    html = client.get("/outages/", {"account": elsewhere.number}).content.decode()
    assert "没有查到符合条件的停电信息" in html


PATHS = [
    "/", "/about/", "/about/company-profile/", "/service-guide/new-connection/", "/safety/home-safety/",
    "/energy-saving/saving-tips/", "/policies/", "/policies/business-rules/", "/tariffs/", "/news/",
    "/news/summer-peak-ready/", "/knowledge/", "/knowledge/tiered-how-calculated/", "/outlets/",
    "/outlets/enshi-shizhou/", "/outages/", "/outages/planned-feeder-maintenance/", "/market-survey/",
    "/en/", "/en/tariffs/", "/en/outages/",
]


def test_every_kind_of_demo_page_renders_and_the_opinion_survey_asks_for_a_login(seeded, client):
    statuses = {path: client.get(path).status_code for path in PATHS}
    assert statuses == {path: 200 for path in PATHS}
    response = client.get("/opinion-collection/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
