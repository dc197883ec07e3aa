"""The tariff page: prices as core holds them today, version history, and the calculator giving core's own quote."""
import datetime
import re
from decimal import Decimal as D

import pytest
from django.utils import timezone
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import inline_formset, nested_form_data, streamfield

from cms.models import HomePage, TariffPage, TariffPageTariff
from cms.services import cms_site_ensure
from core.models import Tariff, TariffTier, TariffVersion, TimeBand
from core.models.customers import CustomerCategory
from core.services.tariffs import Usage, charges_calculate, charges_total, tariff_prices_load, tariff_quote
from core.selectors.tariffs import tariff_version_for
from tests.factories import commercial_tou_tariff, residential_tiered_tariff

pytestmark = pytest.mark.django_db


@pytest.fixture
def tariffs():
    residential = residential_tiered_tariff()
    residential.versions.filter(effective_from=datetime.date(2012, 7, 1)).update(note="鄂发改价管〔2012〕1号")
    commercial = commercial_tou_tariff()
    version = commercial.versions.get()
    TimeBand.objects.create(version=version, period="peak", starts_at=datetime.time(8), ends_at=datetime.time(22))
    TimeBand.objects.create(version=version, period="valley", starts_at=datetime.time(22), ends_at=datetime.time(8))
    return residential, commercial


@pytest.fixture
def tariff_page(tariffs):
    home = cms_site_ensure()
    page = home.add_child(
        instance=TariffPage(
            title="电价标准",
            slug="tariffs",
            intro="恩施地区现行销售电价",
            tariffs=[TariffPageTariff(tariff=tariffs[0]), TariffPageTariff(tariff=tariffs[1])],
        )
    )
    page.save_revision().publish()
    return page


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _quote_rows(body: str) -> list[list[str]]:
    table = re.search(r'<table class="tariff-table quote__lines">(.*?)</table>', body, re.S).group(1)
    return [
        [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]


def test_the_page_shows_the_tariffs_in_force_today_from_core(client, tariff_page, tariffs):
    residential, _ = tariffs
    # A newer version starting tomorrow is history-to-be, not today's price.
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    later = TariffVersion.objects.create(
        tariff=residential, effective_from=tomorrow, structure=TariffVersion.Structure.TIERED, note="下一版"
    )
    TariffTier.objects.create(version=later, number=1, upper_kwh=None, price=D("0.9999"))

    response = client.get("/tariffs/")
    assert response.status_code == 200
    body = response.content.decode()
    tiers = re.search(r'<table class="tariff-table tariff-tiers">(.*?)</table>', body, re.S).group(1)
    assert _text(tiers) == (
        "阶梯电价（按月） 档次 电量范围(kWh) 电价(元/kWh) "
        "第1档 0–180.00 0.5580 第2档 180.00–400.00 0.6080 第3档 400.00以上 0.8580"
    )
    periods = re.search(r'<table class="tariff-table tariff-periods">(.*?)</table>', body, re.S).group(1)
    assert _text(periods) == "分时电价 时段 时间 电价(元/kWh) 峰 08:00–22:00 1.0000 平 — 0.7000 谷 22:00–08:00 0.4000"
    assert "0.9999" not in body
    assert "自2012-07-01起执行 · 鄂发改价管〔2012〕1号" in body
    history = re.search(r'<details class="tariff__history">(.*?)</details>', body, re.S).group(1)
    assert _text(history) == (
        f"历次调整 生效日期 计价结构 文号/说明 {tomorrow:%Y-%m-%d} 阶梯电价 下一版 2012-07-01 阶梯电价 鄂发改价管〔2012〕1号"
    )
    # The empty calculator defaults to the first tariff and shows no result yet.
    assert '<option value="test-res-tiered" selected>居民阶梯电价</option>' in body
    assert 'class="quote"' not in body


def test_capacity_charge_and_flat_price_are_shown(client, tariff_page):
    version = TariffVersion.objects.get(tariff__code="test-com-tou")
    version.capacity_basis = TariffVersion.CapacityBasis.DEMAND
    version.demand_price = D("38.0000")
    version.save()
    body = client.get("/tariffs/").content.decode()
    assert "基本电费（按需量）：<strong>38.0000</strong> 元/kW·月" in body


def test_the_page_reads_a_bounded_number_of_queries(client, tariff_page, django_assert_max_num_queries):
    """Routing and the site (about 9), the tariffs with their prices and bands (5), the quote (3), whatever the
    number of tariffs shown."""
    client.get("/tariffs/")
    with django_assert_max_num_queries(18):
        assert client.get("/tariffs/?tariff=test-com-tou&kwh=100&peak=50&valley=50").status_code == 200
    for code in ("extra-1", "extra-2", "extra-3"):
        tariff = Tariff.objects.create(code=code, name=code, category=CustomerCategory.RESIDENTIAL)
        TariffVersion.objects.create(
            tariff=tariff, effective_from=datetime.date(2020, 1, 1), structure=TariffVersion.Structure.FLAT,
            flat_price=D("0.6000"),
        )
        TariffVersion.objects.create(
            tariff=tariff, effective_from=datetime.date(2018, 1, 1), structure=TariffVersion.Structure.FLAT,
            flat_price=D("0.5500"),
        )
        TariffPageTariff.objects.create(page=tariff_page, tariff=tariff)
    with django_assert_max_num_queries(18):
        body = client.get("/tariffs/?tariff=test-com-tou&kwh=100&peak=50&valley=50").content.decode()
    assert body.count('<section class="tariff"') == 5


def test_tiered_calculator_equals_tariff_quote_and_billing(client, tariff_page, tariffs):
    residential, _ = tariffs
    response = client.get("/tariffs/", {"tariff": "test-res-tiered", "kwh": "523.5"})
    assert response.status_code == 200
    rows = _quote_rows(response.content.decode())
    # 180 x 0.558 = 100.44; 220 x 0.608 = 133.76; 123.5 x 0.858 = 105.963 -> 105.96; total 340.16
    assert rows == [
        ["项目", "数量", "单价", "金额(元)"],
        ["第1档电量", "180.00", "0.5580", "100.44"],
        ["第2档电量", "220.00", "0.6080", "133.76"],
        ["第3档电量", "123.50", "0.8580", "105.96"],
        ["合计", "340.16"],
    ]
    today = timezone.localdate()
    quote = tariff_quote(tariff=residential, on_date=today, kwh="523.5")
    prices = tariff_prices_load(version=tariff_version_for(tariff=residential, on_date=today))
    billed = charges_calculate(prices=prices, usage=Usage(kwh=D("523.50")))
    assert quote.total == charges_total(billed) == D("340.16")
    assert [[line.label, str(line.quantity), str(line.unit_price), str(line.amount)] for line in billed] == rows[1:4]


def test_tou_calculator_equals_tariff_quote_and_billing(client, tariff_page, tariffs):
    _, commercial = tariffs
    query = {"tariff": "test-com-tou", "kwh": "1000", "peak": "400", "flat": "350.5", "valley": "249.5"}
    rows = _quote_rows(client.get("/tariffs/", query).content.decode())
    # 400 x 1.0 = 400.00; 350.5 x 0.7 = 245.35; 249.5 x 0.4 = 99.80; total 745.15
    assert rows == [
        ["项目", "数量", "单价", "金额(元)"],
        ["峰段电量", "400.00", "1.0000", "400.00"],
        ["平段电量", "350.50", "0.7000", "245.35"],
        ["谷段电量", "249.50", "0.4000", "99.80"],
        ["合计", "745.15"],
    ]
    prices = tariff_prices_load(version=tariff_version_for(tariff=commercial, on_date=timezone.localdate()))
    usage = Usage(kwh=D("1000.00"), peak=D("400.00"), flat=D("350.50"), valley=D("249.50"))
    assert charges_total(charges_calculate(prices=prices, usage=usage)) == D("745.15")


def _field_error(body: str, field: str) -> str:
    return _text(re.search(rf'<span class="errorlist" id="calc-{field}-error">(.*?)</span>', body, re.S).group(1))


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"tariff": "test-res-tiered", "kwh": "-5"}, "kwh", "用电量不能为负数"),
        ({"tariff": "test-res-tiered", "kwh": "abc"}, "kwh", "用电量必须是数字"),
        ({"tariff": "test-res-tiered", "kwh": ""}, "kwh", "用电量不能为空"),
        ({"tariff": "test-res-tiered", "kwh": "1.234"}, "kwh", "用电量最多保留两位小数"),
        ({"tariff": "test-res-tiered", "kwh": "1e30"}, "kwh", "用电量数值过大"),
        ({"tariff": "test-com-tou", "kwh": "100", "peak": "60", "valley": "30"}, "kwh", "峰、平、谷电量之和应等于总用电量"),
        ({"tariff": "test-com-tou", "kwh": "100"}, "peak", "分时电价需填写峰、谷时段的电量"),
        ({"tariff": "test-com-tou", "kwh": "100", "peak": "x", "valley": "30"}, "peak", "峰段电量必须是数字"),
        ({"tariff": "no-such-tariff", "kwh": "100"}, "tariff", "本页没有这个电价，请从列表中选择"),
    ],
)
def test_bad_input_shows_the_translated_error_on_its_field(client, tariff_page, query, field, message):
    response = client.get("/tariffs/", query)
    assert response.status_code == 200
    body = response.content.decode()
    assert _field_error(body, field) == message
    assert f'id="calc-{field}" value="{query.get(field, "")}" aria-invalid="true"' in body or field == "tariff"
    assert 'class="quote"' not in body


def test_a_tariff_without_a_version_today_is_said_so(client, tariff_page, tariffs):
    residential, _ = tariffs
    residential.versions.update(effective_from=timezone.localdate() + datetime.timedelta(days=30))
    response = client.get("/tariffs/", {"tariff": "test-res-tiered", "kwh": "100"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "该电价今天尚无生效的版本。" in body
    error = _text(re.search(r'<div class="notice" role="alert">(.*?)</div>', body, re.S).group(1))
    assert error == f"电价“居民阶梯电价”在{timezone.localdate().isoformat()}没有生效的版本"


class TariffPageCreationTests(WagtailPageTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.home = cms_site_ensure()
        cls.tariff = residential_tiered_tariff()

    def setUp(self):
        self.login()

    def test_can_create_under_home(self):
        self.assertCanCreateAt(HomePage, TariffPage)
        self.assertCanNotCreateAt(TariffPage, TariffPage)

    def test_editor_creates_a_tariff_page(self):
        self.assertCanCreate(
            self.home,
            TariffPage,
            nested_form_data(
                {
                    "title": "电价",
                    "slug": "dianjia",
                    "intro": "",
                    "tariffs": inline_formset([{"tariff": self.tariff.pk}]),
                    "body": streamfield([]),
                }
            ),
        )
        page = TariffPage.objects.get(slug="dianjia")
        assert [row.tariff_id for row in page.tariffs.all()] == [self.tariff.pk]
