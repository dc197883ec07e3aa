"""The public front page: made the site root by cms_site_ensure, rendered at / in zh-hans first, /en/ in English."""
import datetime

import pytest
from django.utils import timezone
from wagtail.models import Locale, Page, Site
from wagtail.test.utils import WagtailPageTestCase

from cms.models import HomePage, NewsCategory, NewsIndexPage, NewsPage, SectionPage
from cms.services import cms_site_ensure
from core.models import Outage, OutageKind
from core.services.outages import outage_restore
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db


def test_cms_site_ensure_replaces_the_welcome_page():
    assert Page.objects.filter(depth=2).get().title == "Welcome to your new Wagtail site!"
    home = cms_site_ensure()
    site = Site.objects.get(is_default_site=True)
    assert site.root_page_id == home.pk
    assert (home.title, home.hotline, home.live) == ("国网95598供电服务", "95598", True)
    assert [p.specific_class for p in Page.objects.filter(depth=2)] == [HomePage]


def test_cms_site_ensure_is_idempotent_and_keeps_editors_changes():
    home = cms_site_ensure()
    home.intro = "<p>编辑修改后的导语</p>"
    home.save_revision().publish()
    again = cms_site_ensure()
    assert again.pk == home.pk
    assert HomePage.objects.count() == 1
    assert Site.objects.count() == 1
    assert again.intro == "<p>编辑修改后的导语</p>"


def test_cms_site_ensure_leaves_other_top_level_pages_alone():
    root = Page.get_first_root_node()
    other = root.add_child(instance=Page(title="专题", slug="topic"))
    cms_site_ensure()
    assert Page.objects.filter(pk=other.pk).exists()


def test_cms_site_ensure_creates_a_default_site_when_there_is_none():
    Site.objects.all().delete()
    home = cms_site_ensure()
    site = Site.objects.get()
    assert (site.hostname, site.port, site.is_default_site, site.root_page_id) == ("localhost", 80, True, home.pk)


def test_home_page_renders_in_chinese_by_default(client):
    cms_site_ensure()
    response = client.get("/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["cms/home_page.html", "base.html"]
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert '<a class="hero__number" href="tel:95598">95598</a>' in body
    assert "<h1 class=\"hero__title\">国网95598供电服务</h1>" in body
    assert "请拨打95598供电服务热线，7×24小时为您服务。" in body
    # Wagtail pages link to their translations (no form, no CSRF token: the page can be cached).
    assert '<a href="/" hreflang="zh-hans" lang="zh-hans" aria-current="true">简体中文</a>' in body
    assert "csrfmiddlewaretoken" not in body
    assert 'href="/accounts/login/"' in body
    assert 'href="/admin/"' in body
    assert "/static/css/site.css" in body
    assert "//cdn" not in body and "https://" not in body


def _english_home(home):
    english = home.copy_for_translation(Locale.objects.get(language_code="en"))
    english.title = "State Grid 95598 Power Service"
    english.save_revision().publish()
    return english


def test_english_home_is_the_translation_at_en(client):
    home = cms_site_ensure()
    # Before the translation exists /en/ falls back to the Chinese page (its lang says so).
    assert '<html lang="zh-hans">' in client.get("/en/").content.decode()
    _english_home(home)
    body = client.get("/en/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in body
    assert "<h1 class=\"hero__title\">State Grid 95598 Power Service</h1>" in body
    assert '<a href="/" hreflang="zh-hans" lang="zh-hans">简体中文</a>' in body
    assert '<a href="/en/" hreflang="en" lang="en" aria-current="true">English</a>' in body
    # The Chinese home stays at / whatever the browser prefers, and links to its English translation.
    chinese = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert '<a href="/en/" hreflang="en" lang="en">English</a>' in chinese


def test_language_switcher_form_on_other_pages_sets_the_cookie_and_goes_to_the_english_address(client):
    home = cms_site_ensure()
    _english_home(home)
    search = client.get("/search/").content.decode()
    assert 'action="/i18n/setlang/"' in search
    assert '<option value="zh-hans" selected lang="zh-hans">简体中文</option>' in search
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/en/"
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in client.get("/en/").content.decode()


def test_quick_links_lead_to_the_portals_self_service_pages(client):
    cms_site_ensure()
    response = client.get("/")
    links = response.context["quick_links"]
    assert [(link.label, link.url, link.by_phone) for link in links] == [
        ("交电费", "/portal/pay/", False),
        ("账单查询", "/bill/lookup/", False),
        ("业务办理", "/portal/requests/apply/", False),
        ("故障报修", "/portal/requests/fault/", False),
        ("投诉建议", "/portal/requests/feedback/", False),
        ("进度查询", "/track/", False),
    ]


def test_a_quick_link_whose_page_is_missing_falls_back_to_the_hotline(client, monkeypatch):
    from cms.models import home as home_module

    monkeypatch.setattr(home_module, "QUICK_LINKS", (("portal:no_such_page", "交电费"),))
    cms_site_ensure()
    response = client.get("/")
    assert [(link.label, link.url, link.by_phone) for link in response.context["quick_links"]] == [
        ("交电费", "tel:95598", True)
    ]
    assert '<span class="quick-link__hint">请拨打95598</span>' in response.content.decode()


def test_home_lists_notices_outages_of_the_next_7_days_and_menu_sections(client, django_assert_max_num_queries):
    home = cms_site_ensure()
    news = home.add_child(instance=NewsIndexPage(title="新闻公告", slug="news", show_in_menus=True))
    news.save_revision().publish()
    hidden = home.add_child(instance=SectionPage(title="内部栏目", slug="internal", show_in_menus=False))
    hidden.save_revision().publish()
    notice_category = NewsCategory.objects.create(name="通知公告", slug="notice", is_notice=True)
    news_category = NewsCategory.objects.create(name="供电新闻", slug="news", is_notice=False)
    for day, title, category in [
        (1, "春节期间营业厅营业时间调整", notice_category),
        (3, "关于开展安全用电宣传月的通知", notice_category),
        (4, "供电公司完成迎峰度夏准备", news_category),
    ]:
        news.add_child(
            instance=NewsPage(title=title, slug=f"n{day}", date=datetime.date(2025, 1, day), category=category, body=[])
        ).save_revision().publish()
    now = timezone.now()
    branch = BranchFactory()
    for days, title in [(2, "城区10kV线路检修停电"), (10, "下月计划停电")]:
        Outage.objects.create(
            branch=branch, kind=OutageKind.PLANNED, title=title, reason="线路检修", streets="解放路、舞阳大道",
            starts_at=now + datetime.timedelta(days=days), ends_at=now + datetime.timedelta(days=days, hours=8),
            announced_at=now,
        )
    with django_assert_max_num_queries(30):  # incl. the page cache's 3 on a miss
        response = client.get("/")
    body = response.content.decode()
    assert [n.title for n in response.context["notices"]] == ["关于开展安全用电宣传月的通知", "春节期间营业厅营业时间调整"]
    assert [o.title for o in response.context["upcoming_outages"]] == ["城区10kV线路检修停电"]
    assert "解放路、舞阳大道" in body and "下月计划停电" not in body
    assert '<p class="outage-card__progress outage-card__progress--upcoming">即将停电</p>' in body
    assert [s.title for s in response.context["sections"]] == ["新闻公告"]
    assert '<li><a href="/news/">新闻公告</a></li>' in body


def test_home_keeps_an_outage_past_its_expected_end_as_in_progress_until_it_is_restored(
    client, django_capture_on_commit_callbacks
):
    cms_site_ensure()
    now = timezone.now()
    outage = Outage.objects.create(
        branch=BranchFactory(), kind=OutageKind.PLANNED, title="城区10kV线路检修停电", reason="线路检修",
        streets="解放路", starts_at=now - datetime.timedelta(hours=9), ends_at=now - datetime.timedelta(hours=1),
        announced_at=now - datetime.timedelta(days=8),
    )
    response = client.get("/")
    assert [(o.title, o.progress) for o in response.context["upcoming_outages"]] == [
        ("城区10kV线路检修停电", "past_expected_end")
    ]
    assert (
        '<p class="outage-card__progress outage-card__progress--past_expected_end">'
        "停电中：已过预计恢复送电时间，正在抢修</p>"
    ) in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # the restoration makes the cached front page stale
        outage_restore(outage=outage, restored_at=timezone.now())
    assert client.get("/").context["upcoming_outages"] == []


class HomePageTreeTests(WagtailPageTestCase):
    """Editors may not add a second front page anywhere in the tree."""

    @classmethod
    def setUpTestData(cls):
        cls.home = cms_site_ensure()

    def test_home_page_only_under_the_root(self):
        # One home page per language (the English one is a translation of the Chinese one), all at the top.
        self.assertAllowedParentPageTypes(HomePage, {Page})
        self.assertPageIsRenderable(self.home)
