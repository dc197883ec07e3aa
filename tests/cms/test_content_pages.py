"""Sections, standard pages, policies and news: creation in the admin, what visitors see, filters, pagination, queries."""
import datetime
import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from wagtail.documents.models import Document
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text, streamfield

from cms.models import (
    HomePage,
    KnowledgeIndexPage,
    NewsCategory,
    NewsIndexPage,
    NewsPage,
    OutageNoticeIndexPage,
    OutletIndexPage,
    PolicyAttachment,
    PolicyIndexPage,
    PolicyPage,
    SectionPage,
    StandardPage,
    SurveyPage,
    TariffPage,
)
from cms.services import cms_site_ensure

TODAY = datetime.date(2026, 3, 1)
BODY = [{"type": "paragraph", "value": "<p>正文</p>"}]


def _publish(parent, page):
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _titles(body: str, list_class: str) -> list[str]:
    listing = re.search(rf'<ul class="card-list {list_class}">(.*?)</ul>', body, re.S)
    return re.findall(r"<h2><a [^>]*>([^<]+)</a></h2>", listing.group(1)) if listing else []


class ContentPageCreationTests(WagtailPageTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.home = cms_site_ensure()
        cls.section = _publish(cls.home, SectionPage(title="服务指南", slug="guide"))
        cls.policies = _publish(cls.home, PolicyIndexPage(title="法规政策", slug="policies"))
        cls.news = _publish(cls.home, NewsIndexPage(title="新闻公告", slug="news"))
        cls.category = NewsCategory.objects.create(name="通知公告", slug="notice", is_notice=True)

    def setUp(self):
        self.login()

    def test_where_each_page_type_may_be_created(self):
        self.assertAllowedSubpageTypes(
            SectionPage,
            {
                SectionPage, StandardPage, PolicyIndexPage, NewsIndexPage, TariffPage, OutageNoticeIndexPage,
                KnowledgeIndexPage, OutletIndexPage, SurveyPage,
            },
        )
        self.assertCanCreateAt(HomePage, SectionPage)
        self.assertCanCreateAt(SectionPage, StandardPage)
        self.assertCanCreateAt(HomePage, PolicyIndexPage)
        self.assertAllowedSubpageTypes(PolicyIndexPage, {PolicyPage})
        self.assertAllowedParentPageTypes(PolicyPage, {PolicyIndexPage})
        self.assertAllowedSubpageTypes(NewsIndexPage, {NewsPage})
        self.assertAllowedParentPageTypes(NewsPage, {NewsIndexPage})
        self.assertCanNotCreateAt(SectionPage, PolicyPage)
        self.assertCanNotCreateAt(StandardPage, StandardPage)

    def test_create_section_and_standard_page(self):
        self.assertCanCreate(
            self.home, SectionPage,
            nested_form_data({"title": "安全用电", "slug": "safety", "intro": "安全用电常识", "body": streamfield([])}),
        )
        self.assertCanCreate(
            self.section, StandardPage,
            nested_form_data({
                "title": "低压居民新装", "slug": "new-connection", "intro": "办理流程",
                "body": streamfield([
                    ("heading", {"text": "所需材料", "level": "h2"}),
                    ("paragraph", rich_text("<p>身份证、房产证明。</p>")),
                    ("chart", {"title": "办理时限", "kind": "bar", "unit": "天",
                               "rows": streamfield([("item", {"label": "受理", "value": "1"}), ("item", {"label": "装表", "value": "3"})])}),
                ]),
            }),
        )
        page = StandardPage.objects.get(slug="new-connection")
        assert [block.block_type for block in page.body] == ["heading", "paragraph", "chart"]

    def test_create_policy_with_attachment(self):
        document = Document.objects.create(title="条例全文", file=ContentFile(b"%PDF-1.4", name="rules.pdf"))
        self.assertCanCreate(
            self.policies, PolicyPage,
            nested_form_data({
                "title": "电力供应与使用条例", "slug": "supply-rules", "document_number": "国务院令第196号",
                "issuing_body": "国务院", "issued_on": "1996-04-17", "effective_on": "1996-09-01", "repealed_on": "",
                "summary": "规范电力供应与使用", "body": streamfield([("paragraph", rich_text("<p>第一章 总则</p>"))]),
                "attachments": inline_formset([{"document": document.pk, "label": "全文下载"}]),
            }),
        )
        policy = PolicyPage.objects.get(slug="supply-rules")
        assert (policy.document_number, policy.effective_on) == ("国务院令第196号", datetime.date(1996, 9, 1))
        assert [(a.document_id, a.label) for a in policy.attachments.all()] == [(document.pk, "全文下载")]

    def test_create_news_and_category_snippet(self):
        self.assertCanCreate(
            self.news, NewsPage,
            nested_form_data({
                "title": "春节期间供电服务安排", "slug": "spring", "date": "2026-02-10", "category": self.category.pk,
                "summary": "", "body": streamfield([("paragraph", rich_text("<p>热线照常服务。</p>"))]),
            }),
        )
        assert NewsPage.objects.get(slug="spring").category == self.category

    def test_news_category_is_a_snippet_editors_manage(self):
        response = self.client.post(
            reverse("wagtailsnippets_cms_newscategory:add"),
            {"name": "供电新闻", "name_en": "Power news", "slug": "power-news", "is_notice": ""},
        )
        assert response.status_code == 302
        assert NewsCategory.objects.filter(slug="power-news", is_notice=False, name_en="Power news").exists()
        listing = self.client.get(reverse("wagtailsnippets_cms_newscategory:list"), {"q": "供电"})
        assert listing.status_code == 200
        assert "供电新闻" in listing.content.decode()
        assert "通知公告" not in _text(re.search(r"<tbody>(.*?)</tbody>", listing.content.decode(), re.S).group(1))


@pytest.mark.django_db
def test_section_lists_only_its_live_public_children(client):
    home = cms_site_ensure()
    section = _publish(home, SectionPage(title="走进我们", slug="about", intro="公司简介"))
    _publish(section, StandardPage(title="公司概况", slug="company", intro="恩施供电公司简介", body=BODY))
    _publish(section, SectionPage(title="企业文化", slug="culture", search_description="文化理念"))
    draft = StandardPage(title="草稿", slug="draft", body=BODY, live=False)
    section.add_child(instance=draft)
    response = client.get("/about/")
    assert response.status_code == 200
    body = response.content.decode()
    cards = re.search(r'<ul class="card-list">(.*?)</ul>', body, re.S).group(1)
    assert _text(cards) == "公司概况 恩施供电公司简介 企业文化 文化理念"
    assert 'href="/about/company/"' in cards
    assert '<p class="lead">公司简介</p>' in body


@pytest.mark.django_db
def test_standard_page_renders_its_blocks(client):
    home = cms_site_ensure()
    _publish(home, StandardPage(title="节约用电", slug="saving", intro="省电小窍门", body=[
        {"type": "heading", "value": {"text": "空调", "level": "h2"}},
        {"type": "paragraph", "value": "<p>夏季设置26℃。</p>"},
    ]))
    body = client.get("/saving/").content.decode()
    assert "<title>节约用电</title>" in body
    assert '<h1>节约用电</h1>' in body
    assert '<h2 class="block-heading">空调</h2>' in body
    assert "<p>夏季设置26℃。</p>" in body


@pytest.fixture
def policy_index(db, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)
    home = cms_site_ensure()
    index = _publish(home, PolicyIndexPage(title="法规政策", slug="policies"))
    rows = [
        ("供电营业规则", "2024-06-01", None),
        ("电力供应与使用条例", "1996-09-01", None),
        ("旧版供电营业规则", "1996-10-08", "2024-06-01"),
        ("居民阶梯电价政策", "2026-07-01", None),
    ]
    for title, effective, repealed in rows:
        _publish(index, PolicyPage(
            title=title, slug=f"p{len(title)}{effective[:4]}", issuing_body="国家发展改革委",
            document_number=f"文号{effective[:4]}", effective_on=datetime.date.fromisoformat(effective),
            repealed_on=datetime.date.fromisoformat(repealed) if repealed else None, body=BODY,
        ))
    return index


def test_policy_index_newest_effective_first_with_status(client, policy_index):
    body = client.get("/policies/").content.decode()
    assert _titles(body, "policy-list") == ["居民阶梯电价政策", "供电营业规则", "旧版供电营业规则", "电力供应与使用条例"]
    badges = re.findall(r'<span class="badge badge--(\w+)">([^<]+)</span>', body)
    assert badges == [("pending", "尚未施行"), ("in_force", "现行有效"), ("repealed", "已废止"), ("in_force", "现行有效")]
    assert '<a href="?" aria-current="true">全部</a>' in body


def test_policy_index_filters_in_force_and_repealed(client, policy_index):
    in_force = client.get("/policies/?status=in_force").content.decode()
    assert _titles(in_force, "policy-list") == ["供电营业规则", "电力供应与使用条例"]
    assert '<a href="?status=in_force" aria-current="true">现行有效</a>' in in_force
    repealed = client.get("/policies/?status=repealed").content.decode()
    assert _titles(repealed, "policy-list") == ["旧版供电营业规则"]
    unknown = client.get("/policies/?status=<script>").content.decode()
    assert len(_titles(unknown, "policy-list")) == 4
    assert "<script>" not in unknown


def test_policy_index_paginates_and_keeps_the_filter(client, policy_index, monkeypatch):
    monkeypatch.setattr(PolicyIndexPage, "policies_per_page", 1)
    first = client.get("/policies/?status=in_force").content.decode()
    assert _titles(first, "policy-list") == ["供电营业规则"]
    assert '<a rel="next" href="?status=in_force&amp;page=2">下一页</a>' in first
    assert "第 1 页，共 2 页" in first
    second = client.get("/policies/?status=in_force&page=2").content.decode()
    assert _titles(second, "policy-list") == ["电力供应与使用条例"]
    assert '<a rel="prev" href="?status=in_force&amp;page=1">上一页</a>' in second
    assert _titles(client.get("/policies/?page=abc").content.decode(), "policy-list") == ["居民阶梯电价政策"]
    assert _titles(client.get("/policies/?page=999").content.decode(), "policy-list") == ["电力供应与使用条例"]


def test_policy_index_queries_do_not_grow_with_policies(client, policy_index, django_assert_max_num_queries):
    # A query string keeps the page cache out of the measurement: every request renders.
    client.get("/policies/?page=1")
    with django_assert_max_num_queries(20) as captured:
        client.get("/policies/?page=1")
    before = len(captured)
    for number in range(10):
        _publish(policy_index, PolicyPage(
            title=f"补充规定{number}", slug=f"extra-{number}", issuing_body="湖北省发展改革委",
            effective_on=datetime.date(2020, 1, 1 + number), body=BODY,
        ))
    with django_assert_max_num_queries(before):
        assert len(_titles(client.get("/policies/?page=1").content.decode(), "policy-list")) == 14


def test_policy_page_shows_document_facts_and_attachments(client, policy_index):
    policy = PolicyPage.objects.get(title="旧版供电营业规则")
    policy.issued_on = datetime.date(1996, 10, 8)
    document = Document(title="规则原文", file=ContentFile(b"x" * 3072, name="rules.docx"))
    document.file_size = 3072
    document.save()
    policy.attachments = [PolicyAttachment(document=document, label="")]
    policy.save_revision().publish()
    response = client.get(policy.url)
    assert response.status_code == 200
    body = response.content.decode()
    facts = re.search(r'<dl class="meta-list">(.*?)</dl>', body, re.S).group(1)
    assert _text(facts) == (
        "文号 文号1996 发布机关 国家发展改革委 发布日期 1996-10-08 施行日期 1996-10-08 废止日期 2024-06-01"
    )
    assert '<span class="badge badge--repealed">已废止</span>' in body
    attachments = re.search(r'<ul class="attachment-list">(.*?)</ul>', body, re.S).group(1)
    assert f'<a href="{document.url}" download>规则原文</a>' in attachments
    assert "(DOCX, 3.0\xa0KB)" in attachments


@pytest.fixture
def news_index(db):
    home = cms_site_ensure()
    index = _publish(home, NewsIndexPage(title="新闻公告", slug="news"))
    notice = NewsCategory.objects.create(name="通知公告", name_en="Notices", slug="notice", is_notice=True)
    news = NewsCategory.objects.create(name="供电新闻", name_en="Power news", slug="power-news")
    NewsCategory.objects.create(name="电价解读", slug="tariffs")
    items = [
        ("春节供电安排", "2026-02-10", notice),
        ("新建变电站投运", "2026-01-20", news),
        ("停电计划通知", "2026-02-20", notice),
        ("客户座谈会召开", "2025-12-30", news),
    ]
    for number, (title, date, category) in enumerate(items):
        _publish(index, NewsPage(
            title=title, slug=f"item-{number}", date=datetime.date.fromisoformat(date), category=category,
            summary=f"{title}摘要", body=BODY,
        ))
    return index


def test_news_index_newest_first_with_category_filter(client, news_index):
    body = client.get("/news/").content.decode()
    assert _titles(body, "news-list") == ["停电计划通知", "春节供电安排", "新建变电站投运", "客户座谈会召开"]
    bar = re.search(r'<nav class="filter-bar"[^>]*>(.*?)</nav>', body, re.S).group(1)
    # Only categories with news here; 电价解读 has none.
    assert _text(bar) == "全部 供电新闻 通知公告"
    assert '<a href="?category=notice">通知公告</a>' in bar
    filtered = client.get("/news/?category=notice").content.decode()
    assert _titles(filtered, "news-list") == ["停电计划通知", "春节供电安排"]
    assert '<a href="?category=notice" aria-current="true">通知公告</a>' in filtered
    assert '<time datetime="2026-02-20">2026-02-20</time> · <span class="badge">通知公告</span>' in filtered


def test_news_index_unknown_category_says_so(client, news_index):
    for slug in ("tariffs", "nope", "%3Cscript%3E"):
        response = client.get(f"/news/?category={slug}")
        assert response.status_code == 200
        body = response.content.decode()
        assert '<p class="notice" role="alert">没有这个新闻分类，请从上方选择。</p>' in body
        assert _titles(body, "news-list") == []


def test_news_index_paginates_with_the_category(client, news_index, monkeypatch):
    monkeypatch.setattr(NewsIndexPage, "news_per_page", 1)
    body = client.get("/news/?category=power-news&page=2").content.decode()
    assert _titles(body, "news-list") == ["客户座谈会召开"]
    assert '<a rel="prev" href="?category=power-news&amp;page=1">上一页</a>' in body


def test_news_index_queries_do_not_grow_with_news(client, news_index, django_assert_max_num_queries):
    # A query string keeps the page cache out of the measurement: every request renders.
    client.get("/news/?page=1")
    with django_assert_max_num_queries(20) as captured:
        client.get("/news/?page=1")
    before = len(captured)
    category = NewsCategory.objects.get(slug="power-news")
    for number in range(10):
        _publish(news_index, NewsPage(
            title=f"新闻{number}", slug=f"more-{number}", date=datetime.date(2025, 1, 1 + number),
            category=category, body=BODY,
        ))
    with django_assert_max_num_queries(before):
        assert len(_titles(client.get("/news/?page=1").content.decode(), "news-list")) == 14


def test_news_page(client, news_index):
    response = client.get("/news/item-0/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>春节供电安排</h1>" in body
    assert '<time datetime="2026-02-10">2026-02-10</time> · <span class="badge">通知公告</span>' in body
    assert '<p class="lead">春节供电安排摘要</p>' in body
