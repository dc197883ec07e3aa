"""Wagtail admin registrations for the outages area: choosers for the grid topology an outage notice picks from.

Registering a ChooserViewSet overrides the form field of every ForeignKey to its model in Wagtail forms, so the
notice's substation, feeder and transformer-area rows open a searchable chooser instead of a long select.
The core grid models are not in Wagtail's search index: the choosers search with the ORM (name or code,
and the names up the topology, e.g. a feeder by its substation).
"""
from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms.choosers import BaseFilterForm
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic.chooser import ChooseResultsView, ChooseView
from wagtail.admin.viewsets.chooser import ChooserViewSet

from core.models import Feeder, Substation, TransformerArea


class TopologySearchForm(BaseFilterForm):
    """The chooser's search box: a contains match over the names and codes listed in `search_lookups`."""

    search_lookups: tuple[str, ...] = ()

    q = forms.CharField(
        label=_("搜索"), required=False, widget=forms.TextInput(attrs={"placeholder": _("名称或编码")})
    )

    def filter(self, objects):
        query = (self.cleaned_data.get("q") or "").strip()
        if query:
            condition = Q()
            for lookup in self.search_lookups:
                condition |= Q(**{f"{lookup}__icontains": query})
            objects = objects.filter(condition)
            self.is_searching = True
            self.search_query = query
        return objects


def _search_form(lookups: tuple[str, ...]) -> type[TopologySearchForm]:
    return type("TopologySearchForm", (TopologySearchForm,), {"search_lookups": lookups})


class TopologyChooseMixin:
    """List of the elements in service with code and county beside the name, related rows fetched in the same
    query."""

    related: tuple[str, ...] = ()
    branch_accessor = ""
    search_lookups: tuple[str, ...] = ()

    def get_object_list(self):
        # Retired elements (退运, retired_at set by the topology import) are no longer offered.
        return self.model_class.objects.filter(retired_at__isnull=True).select_related(*self.related).order_by("code")

    def get_filter_form_class(self):
        return _search_form(self.search_lookups)

    @property
    def columns(self):
        return [
            self.title_column,
            Column("code", label=_("编码")),
            Column("branch", label=_("县公司"), accessor=self.branch_accessor),
        ]


def topology_chooser_viewset(
    name: str,
    *,
    model,
    url_prefix: str,
    icon: str,
    choose_one_text,
    choose_another_text,
    edit_item_text,
    related: tuple[str, ...],
    branch_accessor: str,
    search_lookups: tuple[str, ...],
) -> ChooserViewSet:
    """A chooser for one grid-topology model: its rows by code with the county beside them (`related` fetched in the
    same query, the county read through `branch_accessor`), searched with the ORM over `search_lookups`."""
    attributes = {"related": related, "branch_accessor": branch_accessor, "search_lookups": search_lookups}
    return ChooserViewSet(
        name,
        url_prefix=url_prefix,
        model=model,
        icon=icon,
        choose_one_text=choose_one_text,
        choose_another_text=choose_another_text,
        edit_item_text=edit_item_text,
        per_page=20,
        choose_view_class=type("ChooseView", (TopologyChooseMixin, ChooseView), attributes),
        choose_results_view_class=type("ChooseResultsView", (TopologyChooseMixin, ChooseResultsView), attributes),
    )


substation_chooser_viewset = topology_chooser_viewset(
    "outage_substation_chooser", model=Substation, url_prefix="outages/substations", icon="site",
    choose_one_text=_("选择变电站"), choose_another_text=_("选择其他变电站"), edit_item_text=_("编辑变电站"),
    related=("branch",), branch_accessor="branch.name", search_lookups=("name", "code", "branch__name"),
)
feeder_chooser_viewset = topology_chooser_viewset(
    "outage_feeder_chooser", model=Feeder, url_prefix="outages/feeders", icon="link",
    choose_one_text=_("选择10kV线路"), choose_another_text=_("选择其他线路"), edit_item_text=_("编辑线路"),
    related=("substation__branch",), branch_accessor="substation.branch.name",
    search_lookups=("name", "code", "substation__name", "substation__branch__name"),
)
transformer_area_chooser_viewset = topology_chooser_viewset(
    "outage_transformer_area_chooser", model=TransformerArea, url_prefix="outages/transformer-areas",
    icon="radio-full", choose_one_text=_("选择台区"), choose_another_text=_("选择其他台区"),
    edit_item_text=_("编辑台区"), related=("feeder__substation__branch",),
    branch_accessor="feeder.substation.branch.name",
    search_lookups=("name", "code", "feeder__name", "feeder__substation__name", "feeder__substation__branch__name"),
)


@hooks.register("register_admin_viewset")
def register_topology_choosers():
    return [substation_chooser_viewset, feeder_chooser_viewset, transformer_area_chooser_viewset]


@hooks.register("register_log_actions")
def register_outage_log_actions(actions):
    from wagtail.log_actions import LogFormatter

    from cms.outage_publishing import REFUSED_LOG_ACTION

    @actions.register_action(REFUSED_LOG_ACTION)
    class OutageNoticeRefused(LogFormatter):
        label = _("停电公告被拒绝发布")

        def format_message(self, log_entry):
            return _("停电公告未能发布并已撤下：%(message)s") % {"message": log_entry.data.get("message", "")}
