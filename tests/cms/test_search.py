"""Site search /search/?q=: Chinese queries find pages by two-character words and by question-like phrases."""
import pytest
from wagtail.models import Locale

from cms.models import HomePage, SectionPage, StandardPage
from cms.search import SearchQueryTooLong, SearchTerms, search_terms_parse
from cms.services import cms_site_ensure

pytestmark = pytest.mark.django_db


def _standard(parent, *, title, slug, text):
    page = parent.add_child(instance=StandardPage(title=title, slug=slug, body=[("paragraph", f"<p>{text}</p>")]))
    page.save_revision().publish()
    return page


@pytest.fixture
def site_pages():
    home = cms_site_ensure()
    guide = home.add_child(instance=SectionPage(title="服务指南", slug="guide"))
    guide.save_revision().publish()
    pages = {
        "tiers": _standard(guide, title="阶梯电价怎么计算", slug="tiers", text="居民用电按年度阶梯计价，第一档电价最低。"),
        "pay": _standard(guide, title="电费交纳方式", slug="pay", text="可通过网上国网App、银行代扣或营业厅交纳电费。"),
        "safety": _standard(guide, title="安全用电常识", slug="safety", text="不要私拉乱接电线，雷雨天远离变压器。"),
    }
    return home, guide, pages


def test_terms_split_chinese_runs_into_bigrams_and_keep_words():
    assert search_terms_parse("阶梯电价 App") == SearchTerms(groups=(("阶梯", "梯电", "电价"), ("app",)))
    assert search_terms_parse("电费") == SearchTerms(groups=(("电费",),))
    assert search_terms_parse("  ，。 ") == SearchTerms(groups=())
    with pytest.raises(SearchQueryTooLong) as refused:
        search_terms_parse("电" * 51)
    assert (refused.value.field, str(refused.value.message)) == ("q", "搜索内容不能超过50个字")


def test_two_character_query_finds_the_word_inside_longer_text(client, site_pages):
    response = client.get("/search/", {"q": "电费"})
    assert response.status_code == 200
    hits = response.context["results"].hits
    # The home page's intro mentions 电费 in its text: found, ranked below the title hit.
    assert [hit.title for hit in hits] == ["电费交纳方式", "国网95598供电服务"]
    assert hits[0].url == "/guide/pay/"
    assert hits[0].type_name == "内容页"
    body = response.content.decode()
    assert '<a class="search-result__title" href="/guide/pay/">电费交纳方式</a>' in body
    assert "营业厅交纳电费" in body


def test_a_question_worded_differently_finds_the_article(client, site_pages):
    hits = client.get("/search/", {"q": "阶梯电价怎么算"}).context["results"].hits
    assert [hit.title for hit in hits] == ["阶梯电价怎么计算"]


def test_title_hits_rank_first(client, site_pages):
    home, guide, pages = site_pages
    _standard(guide, title="用电常见问题", slug="faq", text="如何查询阶梯电价？请看阶梯电价说明。")
    hits = client.get("/search/", {"q": "阶梯电价"}).context["results"].hits
    assert [hit.title for hit in hits] == ["阶梯电价怎么计算", "用电常见问题"]


def test_drafts_and_other_languages_are_not_found(client, site_pages):
    home, guide, pages = site_pages
    pages["pay"].unpublish()
    draft = guide.add_child(instance=StandardPage(title="电费草稿", slug="draft", live=False, body=[]))
    assert not draft.live
    assert [h.title for h in client.get("/search/", {"q": "电费"}).context["results"].hits] == ["国网95598供电服务"]
    Locale.objects.get_or_create(language_code="en")
    assert client.get("/en/search/", {"q": "安全"}).context["results"].hits == []
    assert [h.title for h in client.get("/search/", {"q": "安全"}).context["results"].hits] == ["安全用电常识"]


def test_empty_and_overlong_queries(client, site_pages):
    empty = client.get("/search/")
    assert empty.status_code == 200
    assert empty.context["results"].total == 0
    assert "search-result" not in empty.content.decode()
    nothing = client.get("/search/", {"q": "核电站"})
    assert "没有找到与“核电站”相关的内容。" in nothing.content.decode()
    long = client.get("/search/", {"q": "电" * 51})
    assert long.status_code == 200
    assert '<p class="form-error" id="search-error" role="alert">搜索内容不能超过50个字</p>' in long.content.decode()


def test_results_are_paginated(client, site_pages):
    home, guide, pages = site_pages
    for n in range(12):
        _standard(guide, title=f"停电检修说明{n:02d}", slug=f"repair-{n}", text="计划检修期间请做好准备。")
    first = client.get("/search/", {"q": "检修"})
    assert first.context["results"].total == 12
    assert len(first.context["results"].hits) == 10
    assert 'href="?q=%E6%A3%80%E4%BF%AE&amp;page=2"' in first.content.decode()
    second = client.get("/search/", {"q": "检修", "page": "2"})
    assert len(second.context["results"].hits) == 2
    assert len(client.get("/search/", {"q": "检修", "page": "x"}).context["results"].hits) == 10


def test_search_box_is_in_every_page_header(client, site_pages):
    body = client.get("/").content.decode()
    assert '<form class="site-search" action="/search/" method="get" role="search">' in body
    assert isinstance(HomePage.objects.get(), HomePage)
