"""The public front page: made the site root by cms_site_ensure, rendered at / in zh-hans first."""
import pytest
from wagtail.models import Page, Site
from wagtail.test.utils import WagtailPageTestCase

from cms.models import HomePage
from cms.services import cms_site_ensure

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
    assert 'action="/i18n/setlang/"' in body
    assert '<option value="zh-hans" selected lang="zh-hans">简体中文</option>' in body
    assert 'href="/accounts/login/"' in body
    assert 'href="/admin/"' in body
    assert "/static/css/site.css" in body
    assert "//cdn" not in body and "https://" not in body


def test_home_page_follows_accept_language_en(client):
    cms_site_ensure()
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in body
    assert '<option value="en" selected lang="en">English</option>' in body
    assert "国网95598供电服务" in body


def test_language_switcher_sets_the_cookie_and_returns_to_the_page(client):
    cms_site_ensure()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in client.get("/").content.decode()


class HomePageTreeTests(WagtailPageTestCase):
    """Editors may not add a second front page anywhere in the tree."""

    @classmethod
    def setUpTestData(cls):
        cls.home = cms_site_ensure()

    def test_home_page_only_under_the_root(self):
        # One home page per language (the English one is a translation of the Chinese one), all at the top.
        self.assertAllowedParentPageTypes(HomePage, {Page})
        self.assertPageIsRenderable(self.home)
