"""Every block of BaseStreamBlock as a visitor sees it, the server-drawn chart, and rich text sanitising."""
import re
from decimal import Decimal as D

import pytest
from django.core.files.base import ContentFile
from wagtail.documents.models import Document
from wagtail.images.models import Image
from wagtail.images.tests.utils import get_test_image_file

from cms.charts import chart_build
from cms.models import HomePage, StandardPage
from cms.rich_text import rich_text_sanitise
from cms.services import cms_site_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture
def home():
    return cms_site_ensure()


def _publish(home, body, slug="page"):
    page = home.add_child(instance=StandardPage(title="测试页", slug=slug, intro="", body=body))
    page.save_revision().publish()
    return page


def _get(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def _stream(body: str) -> str:
    return re.search(r'<div class="stream">(.*?)</div>\s*</article>', body, re.S).group(1)


def _squash(html: str) -> str:
    """Whitespace (a non-breaking space too) collapsed to one space, none between tags."""
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def test_heading_and_paragraph(client, home):
    _publish(home, [
        {"type": "heading", "value": {"text": "安全用电常识", "level": "h2"}},
        {"type": "heading", "value": {"text": "家用电器", "level": "h3"}},
        {"type": "paragraph", "value": "<p>请勿<b>私拉乱接</b>电线。</p>"},
    ])
    stream = _squash(_stream(_get(client, "/page/")))
    assert stream == (
        '<h2 class="block-heading">安全用电常识</h2><h3 class="block-heading">家用电器</h3>'
        '<div class="block-paragraph"><p>请勿<b>私拉乱接</b>电线。</p></div>'
    )


def test_table_escapes_cells_and_marks_headers(client, home):
    table = {
        "data": [["档次", "电量(kWh)"], ["第一档", "0–180"], ["第二档", "<b>181–400</b>"]],
        "first_row_is_table_header": True,
        "first_col_is_header": True,
        "table_caption": "居民阶梯电量",
    }
    _publish(home, [{"type": "table", "value": table}])
    stream = _squash(_stream(_get(client, "/page/")))
    assert stream == (
        '<div class="table-scroll"><table class="block-table"><caption>居民阶梯电量</caption>'
        '<thead><tr><th scope="col" >档次</th><th scope="col" >电量(kWh)</th></tr></thead>'
        '<tbody><tr><th scope="row" >第一档</th><td >0–180</td></tr>'
        '<tr><th scope="row" >第二档</th><td >&lt;b&gt;181–400&lt;/b&gt;</td></tr></tbody></table></div>'
    )


def test_call_to_action_links_a_page_or_an_address(client, home):
    target = _publish(home, [], slug="guide")
    _publish(home, [
        {"type": "call_to_action", "value": {"text": "办理新装", "button_label": "查看指南", "page": target.pk, "url": ""}},
        {"type": "call_to_action", "value": {"text": "拨打热线", "button_label": "95598", "page": None, "url": "tel:95598"}},
    ])
    stream = _squash(_stream(_get(client, "/page/")))
    assert stream == (
        '<aside class="cta"><p>办理新装</p><a class="cta__button" href="/guide/">查看指南</a></aside>'
        '<aside class="cta"><p>拨打热线</p><a class="cta__button" href="tel:95598">95598</a></aside>'
    )


def test_faq_is_a_list_of_details(client, home):
    _publish(home, [{"type": "faq", "value": {"title": "常见问题", "items": [
        {"question": "停电了怎么办？", "answer": "<p>先检查家中开关，再拨打<b>95598</b>。</p>"},
        {"question": "如何交费？", "answer": "<p>可在营业厅或网上交费。</p>"},
    ]}}])
    stream = _squash(_stream(_get(client, "/page/")))
    assert stream == (
        '<section class="faq"><h2>常见问题</h2>'
        '<details class="faq__item"><summary>停电了怎么办？</summary><p>先检查家中开关，再拨打<b>95598</b>。</p></details>'
        '<details class="faq__item"><summary>如何交费？</summary><p>可在营业厅或网上交费。</p></details></section>'
    )


def test_document_link_shows_type_and_size(client, home):
    document = Document(title="用电申请表", file=ContentFile(b"%PDF-1.4\n" + b"0" * 2039, name="apply.pdf"))
    document.file_size = 2048
    document.save()
    _publish(home, [
        {"type": "document", "value": {"document": document.pk, "label": "下载用电申请表"}},
        {"type": "document", "value": {"document": document.pk, "label": ""}},
    ])
    stream = _squash(_stream(_get(client, "/page/")))
    url = document.url
    assert stream == (
        f'<p class="document-link"><a href="{url}" download>下载用电申请表</a>'
        '<span class="document-link__meta">(PDF, 2.0 KB)</span></p>'
        f'<p class="document-link"><a href="{url}" download>用电申请表</a>'
        '<span class="document-link__meta">(PDF, 2.0 KB)</span></p>'
    )


def test_image_with_caption_and_alt(client, home):
    image = Image.objects.create(title="营业厅", file=get_test_image_file(filename="hall.png"))
    _publish(home, [{"type": "image", "value": {"image": image.pk, "caption": "恩施营业厅", "alt": "营业厅外景"}}])
    stream = _squash(_stream(_get(client, "/page/")))
    assert re.fullmatch(
        r'<figure class="block-image"><img alt="营业厅外景" height="\d+" src="/media/images/hall\.[^"]+\.png" width="\d+">'
        r"<figcaption>恩施营业厅</figcaption></figure>",
        stream,
    ), stream


CHART_ROWS = [{"label": "一月", "value": "120.50"}, {"label": "二月", "value": "300"}, {"label": "三月", "value": "80"}]


def test_bar_chart_is_drawn_on_the_server(client, home):
    _publish(home, [{"type": "chart", "value": {"title": "月用电量", "kind": "bar", "unit": "kWh", "rows": CHART_ROWS}}])
    body = _get(client, "/page/")
    svg = re.search(r"<svg .*?</svg>", body, re.S).group(0)
    chart = chart_build(
        title="月用电量", kind="bar", unit="kWh", rows=[("一月", D("120.50")), ("二月", D("300")), ("三月", D("80"))]
    )
    assert f'aria-labelledby="{chart.dom_id}-title {chart.dom_id}-desc"' in svg
    assert f'<title id="{chart.dom_id}-title">月用电量</title>' in svg
    assert f'<desc id="{chart.dom_id}-desc">一月: 120.5 kWh; 二月: 300 kWh; 三月: 80 kWh</desc>' in svg
    # The axis: 0 to 300 in steps of 100 (span 300 / 5 = 60 -> the next 1/2/2.5/5 x 10^n step is 100).
    assert re.findall(r'text-anchor="end" dominant-baseline="middle">([^<]+)</text>', svg) == ["0", "100", "200", "300"]
    assert len(re.findall(r"<rect ", svg)) == 3
    # Plot 248 px high from y=24 to y=272; 300 reaches the top, 120.5 is 99.6 px high.
    # Three slots of 186.7 px from x=64; each bar is the middle three fifths of its slot.
    assert '<rect x="288.0" y="24.0" width="112.0" height="248.0"' in svg
    assert '<rect x="101.3" y="172.4" width="112.0" height="99.6"' in svg
    assert [m.group(1) for m in re.finditer(r'text-anchor="middle">([^<]+)</text>', svg)] == [
        "120.5", "300", "80", "一月", "二月", "三月",
    ]
    assert "<script" not in body
    assert "<figcaption>月用电量 (kWh)</figcaption>" in body


def test_line_chart_draws_a_polyline_through_the_points():
    chart = chart_build(title="负荷", kind="line", unit="", rows=[("1时", D("10")), ("2时", D("-5")), ("3时", D("20"))])
    # -5..20 over 5 ticks -> step 5, axis -5..20; plot 248 px for 25 units.
    assert [tick.label for tick in chart.ticks] == ["-5", "0", "5", "10", "15", "20"]
    assert chart.zero_y == D("222.4")
    assert chart.line_points == "157.3,123.2 344.0,272.0 530.7,24.0"
    assert not chart.is_bar
    assert chart.description == "1时: 10; 2时: -5; 3时: 20"


def test_chart_of_zeros_still_has_an_axis():
    chart = chart_build(title="空", kind="bar", unit="", rows=[("甲", D("0"))])
    assert [tick.label for tick in chart.ticks] == ["0", "0.2", "0.4", "0.6", "0.8", "1"]
    assert chart.marks[0].height == D("0.0")


SMUGGLED = (
    '<p onclick="steal()">电费<script>alert("x")</script>说明'
    '<a href="javascript:alert(1)">链接</a><a href=" JaVa\tScRiPt:alert(2)">二</a>'
    '<img src="x" onerror="alert(3)"><iframe src="https://evil.example"></iframe>'
    '<style>body{display:none}</style><!-- <script>c()</script> -->'
    '<a href="/service/" style="color:red" target="_blank">服务</a></p>'
)
CLEAN = (
    '<p>电费说明<a>链接</a><a>二</a><img src="x"/>'
    '<a href="/service/" rel="noopener noreferrer" target="_blank">服务</a></p>'
)


def test_sanitiser_keeps_content_and_drops_scripts_handlers_and_bad_urls():
    assert rich_text_sanitise(SMUGGLED) == CLEAN
    assert rich_text_sanitise("<svg onload=alert(1)><circle/></svg><p>留下</p>") == "<p>留下</p>"
    assert rich_text_sanitise('<a href="mailto:kf@95598.cn">邮箱</a><a href="data:text/html,x">d</a>') == (
        '<a href="mailto:kf@95598.cn">邮箱</a><a>d</a>'
    )
    assert rich_text_sanitise("<marquee>滚动</marquee>") == "滚动"
    assert rich_text_sanitise("") == ""


def test_script_saved_into_a_rich_text_block_never_reaches_the_page(client, home):
    _publish(home, [
        {"type": "paragraph", "value": SMUGGLED},
        {"type": "faq", "value": {"title": "", "items": [{"question": "问", "answer": SMUGGLED}]}},
    ])
    body = _get(client, "/page/")
    assert body.count(CLEAN) == 2
    for marker in ("<script", "onclick", "onerror", "javascript:", "<iframe", "alert(", "<style"):
        assert marker not in _stream(body).lower()


def test_script_saved_into_a_rich_text_field_never_reaches_the_page(client, home):
    home.intro = SMUGGLED
    home.save_revision().publish()
    body = _get(client, "/")
    assert CLEAN in body
    for marker in ("onclick", "onerror", "javascript:", "<iframe", "alert("):
        assert marker not in body.lower()
    assert HomePage.objects.get().intro == SMUGGLED
