"""demo_site_build: the demo website's page tree, found or made by slug, every new page published through a
Wagtail revision (so publishing's side effects, such as outage notices announcing outages in core, really run)."""
from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.documents import get_document_model
from wagtail.models import Locale, Page

from cms.models import (
    HomePage,
    KnowledgeArticlePage,
    KnowledgeCategory,
    KnowledgeIndexPage,
    NewsCategory,
    NewsIndexPage,
    NewsPage,
    OutageNoticeFeeder,
    OutageNoticeIndexPage,
    OutageNoticePage,
    OutageNoticeSubstation,
    OutageNoticeTransformerArea,
    OutletIndexPage,
    OutletPage,
    PolicyAttachment,
    PolicyIndexPage,
    PolicyPage,
    SectionPage,
    StandardPage,
    SurveyField,
    SurveyPage,
    TariffPage,
    TariffPageTariff,
)
from cms.outage_publishing import outage_source_key
from cms.services import cms_site_ensure
from core.models import Branch, Feeder, Substation, Tariff, TransformerArea
from core.services.outages import outage_announce, outage_restore

from . import english, knowledge, outages, outlets, publications, sections
from .blocks import paragraph

# Shown on the tariff page in this order; the first is the calculator's default.
TARIFF_CODES = (
    "res-tiered", "res-tiered-tou", "res-tiered-annual", "com-flat", "com-tou", "ind-tou-capacity",
    "ind-tou-demand", "agri-flat",
)

# Downloadable files: key -> (title, file name, the text printed in it).
DOCUMENTS = {
    "commitment": ("供电服务十项承诺", "service-commitment.pdf", "Enshi Power Supply: ten service commitments"),
    "application_form": ("低压居民用电申请表", "residential-application-form.pdf",
                         "Application for a low-voltage residential connection"),
    "regulations_text": ("电力供应与使用条例（全文）", "power-supply-regulations.pdf",
                         "Regulations on Electricity Supply and Use"),
    "business_rules_text": ("供电营业规则（全文）", "business-rules.pdf", "Rules for Power Supply Business"),
}

Output = Callable[[str], None]


@dataclass
class DemoSiteResult:
    pages_created: int = 0
    pages_found: int = 0
    notices_with_outage: int = 0
    seconds: float = 0.0
    refused: list[str] = field(default_factory=list)


def _pdf_bytes(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII), small enough to build by hand."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return body


class _SiteBuilder:
    def __init__(self, *, now: datetime.datetime, out: Output) -> None:
        self.now = now
        self.out = out
        self.result = DemoSiteResult()

    def child(
        self, parent: Page, model: type[Page], *, slug: str, before_publish: Callable[[Page], None] | None = None,
        **fields,
    ) -> tuple[Page, bool]:
        """The child of `parent` with this slug, or a new one published through a revision (`before_publish`
        runs on the new draft first)."""
        page = model.objects.child_of(parent).filter(slug=slug).first()
        if page is not None:
            self.result.pages_found += 1
            return page, False
        page = model(slug=slug, live=False, **fields)
        parent.add_child(instance=page)
        revision = page.save_revision()
        if before_publish is not None:
            before_publish(page)
        revision.publish()
        self.result.pages_created += 1
        return page, True

    def report(self, label: str, created: int, found: int) -> None:
        self.out(_("网站 %(label)s：新建 %(created)s 个，已有 %(found)s 个") % {
            "label": label, "created": created, "found": found,
        })

    def phase(self, label: str, build: Callable[[], None]) -> None:
        created, found = self.result.pages_created, self.result.pages_found
        # One transaction per phase: far fewer commits (SQLite syncs each), and publishing's after-commit work
        # (an outage notice's announcement) runs once the phase's pages are all there.
        with transaction.atomic():
            build()
        self.report(label, self.result.pages_created - created, self.result.pages_found - found)


def _documents_ensure() -> dict[str, int]:
    document_model = get_document_model()
    ids = {}
    for key, (title, file_name, text) in DOCUMENTS.items():
        document = document_model.objects.filter(title=title).first()
        if document is None:
            document = document_model(title=title)
            document.file.save(file_name, ContentFile(_pdf_bytes(text)), save=False)
            document.save()
        ids[key] = document.pk
    return ids


def demo_site_build(*, now: datetime.datetime | None = None, out: Output | None = None) -> DemoSiteResult:
    """Build the demo website under the site's home page; what already exists (by slug) is left as it is."""
    started = time.monotonic()
    builder = _SiteBuilder(now=now or timezone.now(), out=out or (lambda line: None))
    home = cms_site_ensure()  # also every configured language's Locale
    docs = _documents_ensure()
    builder.phase(_("栏目与内容页"), lambda: _sections_build(builder, home, docs))
    builder.phase(_("法规政策"), lambda: _policies_build(builder, home, docs))
    builder.phase(_("电价"), lambda: _tariffs_build(builder, home))
    builder.phase(_("新闻公告"), lambda: _news_build(builder, home))
    builder.phase(_("知识库"), lambda: _knowledge_build(builder, home))
    builder.phase(_("营业厅"), lambda: _outlets_build(builder, home))
    builder.phase(_("问卷调查"), lambda: _surveys_build(builder, home))
    builder.phase(_("停电公告"), lambda: _outages_build(builder, home))
    builder.phase(_("英文页面"), lambda: _translations_build(builder, home))
    builder.result.seconds = time.monotonic() - started
    return builder.result


def _sections_build(builder: _SiteBuilder, home: HomePage, docs: dict[str, int]) -> None:
    for spec in sections.SECTIONS:
        section, _created = builder.child(
            home, SectionPage, slug=spec["slug"], title=spec["title"], intro=spec["intro"], show_in_menus=True
        )
        for page_spec in spec["pages"]:
            builder.child(
                section, StandardPage, slug=page_spec["slug"], title=page_spec["title"], intro=page_spec["intro"],
                body=page_spec["body"](docs),
            )


def _policies_build(builder: _SiteBuilder, home: HomePage, docs: dict[str, int]) -> None:
    index, _created = builder.child(
        home, PolicyIndexPage, slug="policies", title="法规政策", show_in_menus=True,
        intro="与供用电有关的法律法规、部门规章和电价政策文件。",
    )
    for spec in publications.POLICIES:
        fields = {k: v for k, v in spec.items() if k not in {"slug", "attachment"}}
        attachments = []
        if spec["attachment"]:
            attachments = [PolicyAttachment(document_id=docs[spec["attachment"]], label=_attachment_label(spec))]
        builder.child(index, PolicyPage, slug=spec["slug"], attachments=attachments, **fields)


def _attachment_label(spec: dict) -> str:
    return f"{spec['title']}（全文）"


def _tariffs_build(builder: _SiteBuilder, home: HomePage) -> None:
    tariffs = Tariff.objects.in_bulk(TARIFF_CODES, field_name="code")
    builder.child(
        home, TariffPage, slug="tariffs", title="电价", show_in_menus=True,
        intro="现行电价直接取自电费结算使用的电价目录；输入月用电量即可试算电费。",
        # sort_order as the admin's inline panel would set it: the first tariff is the calculator's default.
        tariffs=[
            TariffPageTariff(tariff=tariffs[code], sort_order=order)
            for order, code in enumerate(code for code in TARIFF_CODES if code in tariffs)
        ],
        body=[paragraph(
            "<p>居民生活用电执行按月阶梯电价，可选峰谷分时；一般工商业可选单一制或分时电价；"
            "大工业执行两部制电价。电价如有调整，以价格主管部门文件为准。</p>"
        )],
    )


def _news_build(builder: _SiteBuilder, home: HomePage) -> None:
    categories = {}
    for spec in publications.NEWS_CATEGORIES:
        categories[spec["slug"]], _created = NewsCategory.objects.get_or_create(
            slug=spec["slug"], defaults={k: v for k, v in spec.items() if k != "slug"}
        )
    index, _created = builder.child(
        home, NewsIndexPage, slug="news", title="新闻公告", show_in_menus=True,
        intro="供电公司的通知公告、供电新闻和电价政策解读。",
    )
    today = timezone.localdate(builder.now)
    for spec in publications.NEWS:
        builder.child(
            index, NewsPage, slug=spec["slug"], title=spec["title"], summary=spec["summary"], body=spec["body"],
            category=categories[spec["category"]], date=today - datetime.timedelta(days=spec["days_ago"]),
        )


def _knowledge_build(builder: _SiteBuilder, home: HomePage) -> None:
    categories = {}
    for spec in knowledge.CATEGORIES:
        categories[spec["slug"]], _created = KnowledgeCategory.objects.get_or_create(
            slug=spec["slug"], defaults={k: v for k, v in spec.items() if k != "slug"}
        )
    index, _created = builder.child(
        home, KnowledgeIndexPage, slug="knowledge", title="知识库", show_in_menus=True,
        intro="用电常见问题解答：电费电价、业务办理、故障报修、安全用电和停电信息。",
    )
    existing = set(KnowledgeArticlePage.objects.child_of(index).values_list("slug", flat=True))
    for slug, category, title, short_answer, answer, tags in knowledge.ARTICLES:
        if slug in existing:
            builder.result.pages_found += 1
            continue
        page = KnowledgeArticlePage(
            slug=slug, title=title, category=categories[category], short_answer=short_answer, answer=answer,
            live=False,
        )
        page.tags.add(*tags)
        index.add_child(instance=page)
        page.save_revision().publish()
        builder.result.pages_created += 1


def _outlets_build(builder: _SiteBuilder, home: HomePage) -> None:
    branches = Branch.objects.in_bulk(field_name="code")
    index, _created = builder.child(
        home, OutletIndexPage, slug="outlets", title="营业厅", show_in_menus=True,
        intro="全州八个县市营业厅的地址、营业时间和可办理业务。",
    )
    for code, slug, title, address, phone, hours, latitude, longitude, terminal in outlets.OUTLETS:
        if code not in branches:
            continue
        builder.child(
            index, OutletPage, slug=slug, title=title, branch=branches[code], address=address, phone=phone,
            opening_hours=hours, services=outlets.SERVICES, latitude=latitude, longitude=longitude,
            has_self_service_terminal=terminal,
        )


def _surveys_build(builder: _SiteBuilder, home: HomePage) -> None:
    for spec in outlets.SURVEYS:
        fields = [
            SurveyField(clean_name=name, label=label, field_type=field_type, required=required, choices=choices,
                        help_text=help_text, sort_order=order)
            for order, (name, label, field_type, required, choices, help_text) in enumerate(spec["fields"])
        ]
        builder.child(
            home, SurveyPage, slug=spec["slug"], title=spec["title"], kind=spec["kind"], intro=spec["intro"],
            thank_you_text=spec["thank_you_text"], login_required=spec["login_required"],
            one_response_per_customer=spec["one_response_per_customer"], form_fields=fields,
            opens_at=builder.now - datetime.timedelta(days=3), closes_at=builder.now + datetime.timedelta(days=60),
        )


def _outages_build(builder: _SiteBuilder, home: HomePage) -> None:
    index, _created = builder.child(
        home, OutageNoticeIndexPage, slug="outages", title="停电公告", show_in_menus=True,
        intro="计划停电提前7天公告，临时检修停电提前24小时公告。可按县市、街道或户号查询。",
    )
    branch = Branch.objects.order_by("code").first()
    substation = Substation.objects.filter(branch=branch).order_by("code").first()
    if substation is None:
        builder.out(_("网站 停电公告：%(branch)s 还没有电网拓扑，跳过") % {"branch": branch})
        return
    feeder = Feeder.objects.filter(substation=substation).order_by("code").first()
    areas = list(TransformerArea.objects.filter(feeder__substation=substation).order_by("code"))
    for spec in outages.notice_specs(now=builder.now, branch=branch, substation=substation, feeder=feeder,
                                     areas=areas):
        _notice_ensure(builder, index, branch, spec)


def _past_outage_record(page: OutageNoticePage, spec: dict) -> None:
    """A notice of an outage that is already over: it was announced in time (at spec["announced_at"]) and power
    came back at spec["restored_at"]. Publishing a notice whose outage is restored only links the two."""
    outage = outage_announce(
        branch=page.branch, kind=page.kind, title=page.title, reason=page.reason, streets=page.streets,
        starts_at=page.starts_at, ends_at=page.ends_at, source_key=outage_source_key(page),
        now=spec["announced_at"], **page.outage_picks(),
    )
    outage_restore(outage=outage, restored_at=spec["restored_at"])


def _notice_ensure(builder: _SiteBuilder, index: OutageNoticeIndexPage, branch: Branch, spec: dict) -> None:
    before_publish = None
    if "restored_at" in spec:
        def before_publish(page: OutageNoticePage) -> None:
            _past_outage_record(page, spec)
    page, created = builder.child(
        index, OutageNoticePage, slug=spec["slug"], before_publish=before_publish,
        title=spec["title"], kind=spec["kind"], branch=branch,
        starts_at=spec["starts_at"], ends_at=spec["ends_at"], reason=spec["reason"], streets=spec["streets"],
        details=spec["details"],
        substations=[OutageNoticeSubstation(substation=s) for s in spec.get("substations", [])],
        feeders=[OutageNoticeFeeder(feeder=f) for f in spec.get("feeders", [])],
        transformer_areas=[OutageNoticeTransformerArea(transformer_area=a) for a in spec.get("transformer_areas", [])],
    )
    page.refresh_from_db(fields=["live", "outage"])
    if page.outage_id is not None:
        builder.result.notices_with_outage += 1
    elif created and not page.live:
        builder.result.refused.append(page.title)


def _translations_build(builder: _SiteBuilder, home: HomePage) -> None:
    english_locale = Locale.objects.get(language_code="en")
    for path, fields in english.TRANSLATIONS:
        source = home
        for slug in filter(None, path.split("/")):
            source = source.get_children().filter(slug=slug).first()
            if source is None:
                break
        if source is None:
            continue
        source = source.specific
        if source.get_translations().filter(locale=english_locale).exists():
            builder.result.pages_found += 1
            continue
        translation = source.copy_for_translation(english_locale)
        for name, value in fields.items():
            setattr(translation, name, value)
        translation.save_revision().publish()
        builder.result.pages_created += 1
