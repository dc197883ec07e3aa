"""Service outlets (营业厅): the index grouped by county with a server-drawn SVG map, and one outlet's page."""
from decimal import Decimal

import pytest
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import nested_form_data

from cms.models import HomePage, OutletIndexPage, OutletPage, SectionPage
from cms.selectors import MapPoint, outlet_map
from cms.services import cms_site_ensure
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db


def add_outlet(index, *, branch, title, slug, lat, lon, phone="0718-8221234"):
    outlet = index.add_child(instance=OutletPage(
        title=title, slug=slug, branch=branch, address=f"{title}地址", phone=phone,
        opening_hours="周一至周五 8:30-17:30\n\n周六 9:00-12:00\n", services="电费交纳\n新装增容\n更名过户",
        latitude=Decimal(lat), longitude=Decimal(lon), has_self_service_terminal=True,
    ))
    outlet.save_revision().publish()
    return outlet


@pytest.fixture
def no_page_cache(settings):
    """Query counts measure rendering, not the site's page cache (which would answer from one cache read)."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "cms.cache.PageCacheMiddleware"]


@pytest.fixture
def outlets():
    home = cms_site_ensure()
    index = home.add_child(instance=OutletIndexPage(title="营业厅", slug="outlets", intro="就近办理用电业务"))
    index.save_revision().publish()
    enshi = BranchFactory(code="B001", name="恩施市供电公司")
    lichuan = BranchFactory(code="B002", name="利川市供电公司")
    pages = {
        "wuyangba": add_outlet(index, branch=enshi, title="舞阳坝营业厅", slug="wuyangba", lat="30.295000", lon="109.486000"),
        "xiaodu": add_outlet(index, branch=enshi, title="小渡船营业厅", slug="xiaodu", lat="30.270000", lon="109.470000"),
        "lichuan": add_outlet(index, branch=lichuan, title="利川城区营业厅", slug="lichuan", lat="30.291000", lon="108.936000", phone=""),
    }
    return index, pages


def test_index_groups_by_county_and_lists_hours_and_services(client, outlets, no_page_cache, django_assert_max_num_queries):
    client.get("/outlets/")
    with django_assert_max_num_queries(11):
        response = client.get("/outlets/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["cms/outlet_index_page.html", "base.html"]
    body = response.content.decode()
    assert body.index('<h2 id="county-1">恩施市供电公司</h2>') < body.index("舞阳坝营业厅</a></h3>") < body.index(
        "小渡船营业厅</a></h3>") < body.index('<h2 id="county-2">利川市供电公司</h2>') < body.index("利川城区营业厅</a></h3>")
    assert '<ul class="outlet-card__hours"><li>周一至周五 8:30-17:30</li><li>周六 9:00-12:00</li></ul>' in body
    assert '<ul class="outlet-card__services"><li>电费交纳</li><li>新装增容</li><li>更名过户</li></ul>' in body
    assert '<a href="tel:07188221234">0718-8221234</a>' in body
    assert body.count('class="outlet-card__phone"') == 2  # the Lichuan hall has no phone: no empty tel: link
    assert '<a href="geo:30.295000,109.486000?q=30.295000,109.486000(%E8%88%9E%E9%98%B3%E5%9D%9D%E8%90%A5%E4%B8%9A%E5%8E%85)">' in body


def test_index_queries_do_not_grow_with_outlets(client, outlets, no_page_cache, django_assert_max_num_queries):
    index, pages = outlets
    client.get("/outlets/")
    with django_assert_max_num_queries(11) as captured:
        client.get("/outlets/")
    before = len(captured)
    for n in range(5):
        add_outlet(index, branch=BranchFactory(), title=f"乡镇营业厅{n}", slug=f"town{n}", lat=f"30.{n}00000",
                   lon="109.100000")
    with django_assert_max_num_queries(before):
        body = client.get("/outlets/").content.decode()
    assert body.count("<circle ") == 8


def test_index_draws_the_map_from_coordinates(client, outlets):
    body = client.get("/outlets/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 440" role="img"' in body
    assert '<title id="outlet-map-title">营业厅分布图</title>' in body
    assert body.count("<circle ") == 3
    assert '<a href="/outlets/lichuan/">' in body
    assert "<script" not in body


def test_map_places_points_by_latitude_and_longitude(outlets):
    index, pages = outlets
    drawn = outlet_map(outlets=[pages["wuyangba"], pages["xiaodu"], pages["lichuan"]])
    by_title = {p.title: p for p in drawn.points}
    west, east, south = by_title["利川城区营业厅"], by_title["舞阳坝营业厅"], by_title["小渡船营业厅"]
    # West is left, north is up; the longest span (east-west) fills the frame between the label margins.
    assert west.x == Decimal("120.0") and east.x == Decimal("520.0")
    assert west.x < south.x < east.x
    assert east.y < west.y < south.y
    assert (west.anchor, west.label_x) == ("start", Decimal("129.0"))
    assert (east.anchor, east.label_x) == ("end", Decimal("511.0"))
    assert all(0 <= p.y <= 440 for p in drawn.points)


def test_map_of_one_outlet_is_centred_and_of_none_is_absent(outlets):
    index, pages = outlets
    assert outlet_map(outlets=[]) is None
    single = outlet_map(outlets=[pages["xiaodu"]])
    assert single.points == [MapPoint(
        title="小渡船营业厅", url="/outlets/xiaodu/", x=Decimal("320.0"), y=Decimal("220.0"),
        label_x=Decimal("329.0"), label_y=Decimal("224.0"), anchor="start",
    )]


def test_empty_index(client):
    home = cms_site_ensure()
    home.add_child(instance=OutletIndexPage(title="营业厅", slug="outlets")).save_revision().publish()
    body = client.get("/outlets/").content.decode()
    assert "暂无营业厅信息。" in body
    assert "<svg" not in body


def test_outlet_page(client, outlets):
    response = client.get("/outlets/wuyangba/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>舞阳坝营业厅</h1>" in body
    assert '<a href="/outlets/">营业厅</a> · 恩施市供电公司' in body
    assert '<dd><a href="tel:07188221234">0718-8221234</a></dd>' in body
    assert '<ul class="outlet__hours"><li>周一至周五 8:30-17:30</li><li>周六 9:00-12:00</li></ul>' in body
    assert '<ul class="outlet__services"><li>电费交纳</li><li>新装增容</li><li>更名过户</li></ul>' in body
    assert "geo:30.295000,109.486000?q=" in body


class OutletPageTreeTests(WagtailPageTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.home = cms_site_ensure()
        cls.index = cls.home.add_child(instance=OutletIndexPage(title="营业厅", slug="outlets"))
        cls.branch = BranchFactory(code="B001", name="恩施市供电公司")

    def setUp(self):
        self.login()

    def test_tree_rules(self):
        self.assertAllowedParentPageTypes(OutletIndexPage, {HomePage, SectionPage})
        self.assertAllowedSubpageTypes(OutletIndexPage, {OutletPage})
        self.assertCanNotCreateAt(HomePage, OutletPage)

    def test_editor_creates_an_outlet(self):
        self.assertCanCreate(self.index, OutletPage, nested_form_data({
            "title": "舞阳坝营业厅", "slug": "wuyangba", "branch": self.branch.pk, "address": "恩施市舞阳大道1号",
            "phone": "0718-8221234", "opening_hours": "周一至周日 8:30-17:30", "services": "电费交纳",
            "latitude": "30.295000", "longitude": "109.486000",
        }))
        assert OutletPage.objects.get(slug="wuyangba").latitude == Decimal("30.295000")
