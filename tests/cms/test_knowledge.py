"""The knowledge base: the FAQ page grouped by category with a tag filter, the article page, the Chinese-aware
knowledge_search and the agents' /staff/knowledge/ page (HTML and JSON)."""
import pytest
from django.contrib.auth import get_user_model
from wagtail.models import Locale
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import nested_form_data, rich_text

from cms.models import HomePage, KnowledgeArticlePage, KnowledgeCategory, KnowledgeIndexPage, SectionPage
from cms.search import SearchQueryTooLong
from cms.selectors import KnowledgeHit, knowledge_search
from cms.services import cms_site_ensure

pytestmark = pytest.mark.django_db

ARTICLES = [
    # (slug, category slug, title, short answer, answer, tags)
    ("tiered-price", "price", "阶梯电价是怎么计算的？", "按年度累计用电量分三档，每档电价不同。",
     "<p>第一档每月200千瓦时以内执行基础电价。</p>", ["电价", "阶梯"]),
    ("bill-query", "price", "怎样查询电费账单？", "可在网上国网App或拨打95598查询电费。",
     "<p>登录后选择账单查询。</p>", ["电费"]),
    ("pay-ways", "business", "有哪些交费方式？", "营业厅、网上国网、银行代扣都可以交电费。",
     "<p>推荐开通代扣。</p>", ["交费", "电费"]),
    ("outage-report", "repair", "家里突然停电怎么办？", "先看看邻居是否停电，再拨打95598报修。",
     "<p>检查漏电保护器是否跳闸。</p>", ["报修"]),
    ("hidden", "repair", "内部处理口径", "只给坐席看的说明。", "<p>不在常见问题里展示。</p>", ["报修"]),
]


def build_knowledge_base():
    home = cms_site_ensure()
    index = home.add_child(instance=KnowledgeIndexPage(title="知识库", slug="knowledge", intro="常见用电问题解答"))
    index.save_revision().publish()
    categories = {
        "price": KnowledgeCategory.objects.create(name="电费电价", name_en="Bills and tariffs", slug="price", sort_order=1),
        "business": KnowledgeCategory.objects.create(name="业务办理", slug="business", sort_order=2),
        "repair": KnowledgeCategory.objects.create(name="故障报修", name_en="Faults", slug="repair", sort_order=3),
    }
    pages = {}
    for slug, category, title, short_answer, answer, tags in ARTICLES:
        article = index.add_child(
            instance=KnowledgeArticlePage(
                title=title, slug=slug, category=categories[category], short_answer=short_answer, answer=answer,
                show_as_faq=slug != "hidden",
            )
        )
        article.tags.add(*tags)
        article.save()
        article.save_revision().publish()
        pages[slug] = article
    return home, index, categories, pages


@pytest.fixture
def no_page_cache(settings):
    """Query counts measure rendering, not the site's page cache (which would answer from one cache read)."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "cms.cache.PageCacheMiddleware"]


@pytest.fixture
def kb():
    return build_knowledge_base()


def titles(hits):
    return [hit.title for hit in hits]


def test_two_character_query_finds_every_article_about_it(kb):
    hits = knowledge_search(query="电费", language="zh-hans")
    # A title hit outranks an answer or tag that mentions it.
    assert titles(hits) == ["怎样查询电费账单？", "有哪些交费方式？"]


def test_a_spoken_phrase_puts_the_right_article_first(kb):
    home, index, categories, pages = kb
    hits = knowledge_search(query="阶梯电价怎么算", language="zh-hans")
    assert hits[0] == KnowledgeHit(
        page_id=pages["tiered-price"].pk,
        title="阶梯电价是怎么计算的？",
        short_answer="按年度累计用电量分三档，每档电价不同。",
        url="/knowledge/tiered-price/",
        category="电费电价",
    )


def test_search_ranks_title_matches_and_respects_the_limit(kb):
    # Agents see every live article, also those not shown in the public FAQ.
    assert titles(knowledge_search(query="报修", language="zh-hans")) == ["内部处理口径", "家里突然停电怎么办？"]
    assert titles(knowledge_search(query="停电了怎么报修", language="zh-hans")) == ["家里突然停电怎么办？"]
    assert len(knowledge_search(query="电费", language="zh-hans", limit=1)) == 1
    assert knowledge_search(query="电费", language="zh-hans", limit=0) == []


def test_search_sees_only_live_articles_of_the_locale(kb):
    home, index, categories, pages = kb
    pages["bill-query"].unpublish()
    assert titles(knowledge_search(query="账单", language="zh-hans")) == []
    assert knowledge_search(query="电费", language="en") == []
    assert knowledge_search(query="电费", language="xx") == []
    assert knowledge_search(query="？？", language="zh-hans") == []
    with pytest.raises(SearchQueryTooLong):
        knowledge_search(query="电" * 51, language="zh-hans")


def test_search_english_translation(kb):
    home, index, categories, pages = kb
    en = Locale.objects.get_or_create(language_code="en")[0]
    article = pages["tiered-price"].copy_for_translation(en, copy_parents=True)
    article.title = "How is the tiered tariff calculated?"
    article.short_answer = "Yearly use is split into three tiers with different prices."
    article.save_revision().publish()
    hits = knowledge_search(query="tiered tariff", language="en")
    assert [(h.title, h.url, h.category) for h in hits] == [
        ("How is the tiered tariff calculated?", "/en/knowledge/tiered-price/", "Bills and tariffs"),
    ]
    assert titles(knowledge_search(query="阶梯电价", language="zh-hans")) == ["阶梯电价是怎么计算的？"]


def test_faq_page_groups_articles_by_category_as_details(client, kb, no_page_cache, django_assert_max_num_queries):
    client.get("/knowledge/")  # warms Wagtail's cached site root paths
    with django_assert_max_num_queries(12):
        response = client.get("/knowledge/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["cms/knowledge_index_page.html", "base.html"]
    body = response.content.decode()
    assert body.index("<h2 id=\"faq-group-price\">电费电价</h2>") < body.index(
        "<h2 id=\"faq-group-business\">业务办理</h2>") < body.index("<h2 id=\"faq-group-repair\">故障报修</h2>")
    assert "<details class=\"faq-item\">\n          <summary>阶梯电价是怎么计算的？</summary>" in body
    assert "<p>按年度累计用电量分三档，每档电价不同。</p>" in body
    assert 'href="/knowledge/tiered-price/"' in body
    assert "内部处理口径" not in body
    for tag in ("交费", "报修", "电价", "电费", "阶梯"):
        assert f'href="/knowledge/?tag={tag}"' not in body  # the link is URL-encoded
    assert '<a href="/knowledge/?tag=%E7%94%B5%E8%B4%B9">电费</a>' in body


def test_faq_query_count_does_not_grow_with_articles(client, kb, no_page_cache, django_assert_max_num_queries):
    home, index, categories, pages = kb
    client.get("/knowledge/")
    with django_assert_max_num_queries(12) as captured:
        client.get("/knowledge/")
    before = len(captured)
    for n in range(10):
        extra = index.add_child(instance=KnowledgeArticlePage(
            title=f"问题{n}", slug=f"q{n}", category=categories["business"], short_answer="答", answer="<p>答</p>"))
        extra.tags.add(f"标签{n}")
        extra.save()
        extra.save_revision().publish()
    with django_assert_max_num_queries(before):
        client.get("/knowledge/")


def test_faq_tag_filter(client, kb):
    body = client.get("/knowledge/", {"tag": "电费"}).content.decode()
    assert "怎样查询电费账单？" in body and "有哪些交费方式？" in body
    assert "阶梯电价是怎么计算的？" not in body and "家里突然停电怎么办？" not in body
    assert "标签“电费”下的问题" in body
    assert '<a href="/knowledge/?tag=%E7%94%B5%E8%B4%B9" aria-current="true">电费</a>' in body
    unknown = client.get("/knowledge/", {"tag": "<script>"})
    assert unknown.status_code == 200
    text = unknown.content.decode()
    assert "没有带这个标签的问题。" in text
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_article_page(client, kb):
    response = client.get("/knowledge/tiered-price/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>阶梯电价是怎么计算的？</h1>" in body
    assert '<a href="/knowledge/">知识库</a> · 电费电价' in body
    assert "<p>第一档每月200千瓦时以内执行基础电价。</p>" in body
    assert '<a href="/knowledge/?tag=%E9%98%B6%E6%A2%AF">阶梯</a>' in body


@pytest.fixture
def agent(db):
    return get_user_model().objects.create_user(username="agent1", password="pw", is_staff=True)


def test_staff_search_requires_staff(client, kb):
    response = client.get("/staff/knowledge/", {"q": "电费"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/staff/knowledge/%3Fq%3D%25E7%2594%25B5%25E8%25B4%25B9"
    customer = get_user_model().objects.create_user(username="customer1", password="pw")
    client.force_login(customer)
    assert client.get("/staff/knowledge/", {"q": "电费"}).status_code == 403
    assert client.get("/staff/knowledge/", {"q": "电费", "format": "json"}).status_code == 403


def test_staff_search_html(client, kb, agent):
    client.force_login(agent)
    response = client.get("/staff/knowledge/", {"q": "阶梯电价怎么算"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "“阶梯电价怎么算”找到1条答复" in body
    assert '<a href="/knowledge/tiered-price/" target="_blank" rel="noopener">阶梯电价是怎么计算的？</a>' in body
    assert '<p class="knowledge-hit__answer">按年度累计用电量分三档，每档电价不同。</p>' in body
    empty = client.get("/staff/knowledge/").content.decode()
    assert "找到" not in empty and 'name="q" value=""' in empty
    nothing = client.get("/staff/knowledge/", {"q": "光伏并网"}).content.decode()
    assert "没有找到相关答复，请换个说法再试。" in nothing


def test_staff_search_json(client, kb, agent):
    home, index, categories, pages = kb
    client.force_login(agent)
    response = client.get("/staff/knowledge/", {"q": "电费", "format": "json"})
    assert response.status_code == 200
    assert response.json() == {
        "query": "电费",
        "language": "zh-hans",
        "error": "",
        "results": [
            {"page_id": pages["bill-query"].pk, "title": "怎样查询电费账单？",
             "short_answer": "可在网上国网App或拨打95598查询电费。", "url": "/knowledge/bill-query/",
             "category": "电费电价"},
            {"page_id": pages["pay-ways"].pk, "title": "有哪些交费方式？",
             "short_answer": "营业厅、网上国网、银行代扣都可以交电费。", "url": "/knowledge/pay-ways/",
             "category": "业务办理"},
        ],
    }


def test_staff_search_bad_input(client, kb, agent):
    client.force_login(agent)
    long = client.get("/staff/knowledge/", {"q": "电" * 51, "format": "json"})
    assert long.status_code == 400
    assert long.json()["error"] == "搜索内容不能超过50个字"
    assert long.json()["results"] == []
    lang = client.get("/staff/knowledge/", {"q": "电费", "lang": "fr"})
    assert lang.status_code == 400
    assert "不支持的语言。" in lang.content.decode()
    assert client.post("/staff/knowledge/", {"q": "电费"}).status_code == 405


class KnowledgePageTreeTests(WagtailPageTestCase):
    """Editors build the knowledge base in the admin: an index under home or a section, articles under the index."""

    @classmethod
    def setUpTestData(cls):
        cls.home = cms_site_ensure()
        cls.index = cls.home.add_child(instance=KnowledgeIndexPage(title="知识库", slug="knowledge"))
        cls.category = KnowledgeCategory.objects.create(name="电费电价", slug="price")

    def setUp(self):
        self.login()

    def test_allowed_parents_and_children(self):
        self.assertAllowedParentPageTypes(KnowledgeIndexPage, {HomePage, SectionPage})
        self.assertAllowedSubpageTypes(KnowledgeIndexPage, {KnowledgeArticlePage})
        self.assertAllowedParentPageTypes(KnowledgeArticlePage, {KnowledgeIndexPage})
        self.assertCanNotCreateAt(HomePage, KnowledgeArticlePage)

    def test_editor_creates_an_article(self):
        self.assertCanCreate(self.index, KnowledgeArticlePage, nested_form_data({
            "title": "电费怎么交",
            "slug": "how-to-pay",
            "category": self.category.pk,
            "short_answer": "可通过网上国网交费。",
            "answer": rich_text("<p>详细步骤。</p>"),
            "tags": "交费, 电费",
            "show_as_faq": True,
        }))
        article = KnowledgeArticlePage.objects.get(slug="how-to-pay")
        assert sorted(t.name for t in article.tags.all()) == ["交费", "电费"]

    def test_category_snippet_admin(self):
        response = self.client.get("/admin/snippets/cms/knowledgecategory/")
        assert response.status_code == 200
        assert "电费电价" in response.content.decode()
        response = self.client.post("/admin/snippets/cms/knowledgecategory/add/", {
            "name": "安全用电", "name_en": "Safety", "slug": "safety", "sort_order": 4})
        assert response.status_code == 302
        assert KnowledgeCategory.objects.get(slug="safety").name_en == "Safety"


def test_english_faq_uses_english_category_names(client, kb):
    home, index, categories, pages = kb
    en = Locale.objects.get_or_create(language_code="en")[0]
    home.copy_for_translation(en).save_revision().publish()
    index_en = index.copy_for_translation(en)
    index_en.title = "Knowledge base"
    index_en.save_revision().publish()
    article = pages["tiered-price"].copy_for_translation(en)
    article.title = "How is the tiered tariff calculated?"
    article.save_revision().publish()
    body = client.get("/en/knowledge/").content.decode()
    assert '<h2 id="faq-group-price">Bills and tariffs</h2>' in body
    assert "<summary>How is the tiered tariff calculated?</summary>" in body
    assert "阶梯电价是怎么计算的？" not in body
