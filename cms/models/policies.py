"""Policies and regulations (法规政策)."""
import datetime

from django.core.paginator import Page as PaginatorPage
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from cms.blocks import BaseStreamBlock


class PolicyIndexPage(Page):
    """Lists policies and regulations, newest effective first."""

    intro = models.TextField(_("栏目简介"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = ["cms.PolicyPage"]

    policies_per_page = 20
    # ?status= values of the filter bar; anything else shows every policy.
    STATUS_FILTERS = (("", _("全部")), ("in_force", _("现行有效")), ("repealed", _("已废止")))

    class Meta:
        verbose_name = _("法规政策栏目")
        verbose_name_plural = _("法规政策栏目")

    def policies(self, *, status: str = "", on_date: datetime.date | None = None) -> QuerySet["PolicyPage"]:
        """Live policies under this index, newest effective first; status "in_force" or "repealed" on a date."""
        on_date = on_date or timezone.localdate()
        policies = PolicyPage.objects.child_of(self).live().public().order_by("-effective_on", "-pk")
        if status == "in_force":
            policies = policies.filter(effective_on__lte=on_date).filter(
                Q(repealed_on__isnull=True) | Q(repealed_on__gt=on_date)
            )
        elif status == "repealed":
            policies = policies.filter(repealed_on__lte=on_date)
        return policies

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        status = request.GET.get("status", "")
        if status not in dict(self.STATUS_FILTERS):
            status = ""
        page_obj: PaginatorPage = Paginator(self.policies(status=status), self.policies_per_page).get_page(
            request.GET.get("page")
        )
        context.update(
            page_obj=page_obj,
            status=status,
            status_filters=[
                {"value": value, "label": label, "query": urlencode({"status": value}) if value else ""}
                for value, label in self.STATUS_FILTERS
            ],
            filter_query=urlencode({"status": status}) if status else "",
        )
        return context


class PolicyPage(Page):
    """One law, regulation, rule or tariff notice, with its document number, issuer and effective date."""

    document_number = models.CharField(_("文号"), max_length=80, blank=True)
    issuing_body = models.CharField(_("发布机关"), max_length=120)
    issued_on = models.DateField(_("发布日期"), null=True, blank=True)
    effective_on = models.DateField(_("施行日期"))
    repealed_on = models.DateField(_("废止日期"), null=True, blank=True)
    summary = models.TextField(_("摘要"), blank=True)
    body = StreamField(BaseStreamBlock(), verbose_name=_("全文"))

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [
                FieldPanel("document_number"),
                FieldPanel("issuing_body"),
                FieldPanel("issued_on"),
                FieldPanel("effective_on"),
                FieldPanel("repealed_on"),
            ],
            heading=_("文件信息"),
        ),
        FieldPanel("summary"),
        FieldPanel("body"),
        InlinePanel("attachments", label=_("附件")),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("document_number"),
        index.SearchField("issuing_body"),
        index.SearchField("summary"),
        index.SearchField("body"),
        index.FilterField("effective_on"),
    ]

    parent_page_types = ["cms.PolicyIndexPage"]
    subpage_types = []

    STATUS_LABELS = {"pending": _("尚未施行"), "in_force": _("现行有效"), "repealed": _("已废止")}

    class Meta:
        verbose_name = _("法规政策")
        verbose_name_plural = _("法规政策")

    def status_on(self, on_date: datetime.date) -> str:
        """"pending" before its effective date, "repealed" from its repeal date, else "in_force"."""
        if self.repealed_on is not None and self.repealed_on <= on_date:
            return "repealed"
        if self.effective_on > on_date:
            return "pending"
        return "in_force"

    @property
    def status(self) -> str:
        return self.status_on(timezone.localdate())

    @property
    def status_label(self) -> str:
        return self.STATUS_LABELS[self.status]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["attachments"] = list(self.attachments.select_related("document"))
        return context


class PolicyAttachment(Orderable):
    page = ParentalKey(PolicyPage, on_delete=models.CASCADE, related_name="attachments")
    document = models.ForeignKey(
        "wagtaildocs.Document", on_delete=models.PROTECT, related_name="+", verbose_name=_("文件")
    )
    label = models.CharField(_("显示名称"), max_length=120, blank=True)

    panels = [FieldPanel("document"), FieldPanel("label")]

    class Meta(Orderable.Meta):
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
