"""Django admin for the core records (mounted at /django-admin/).

Money records (bills, ledger, payments, allocations, late fees) and meter readings are read-only here:
they change only through core services, which keep the ledger, balances and checks consistent. So are
tickets, their steps, events and evaluations: tickets move only through core.services.tickets. Process
definitions are edited here as inactive versions and switched on by the "activate" action, which validates.
"""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import OutageError
from core.models import (
    TrackingAttempt,
    AgentPresence,
    AgentStateChange,
    Call,
    CallLeg,
    CallTicket,
    PersonalDataAccess,
    RestorationCallback,
    Account,
    AccountBinding,
    BindingAttempt,
    BindingCode,
    Bill,
    BillingRun,
    BillLine,
    Branch,
    CollectionPolicy,
    Company,
    Customer,
    Evaluation,
    Feeder,
    LateFee,
    LedgerEntry,
    Meter,
    MeterReading,
    OnlinePayment,
    OnlineRefund,
    Outage,
    OutageState,
    OutageArea,
    Payment,
    PaymentAllocation,
    Post,
    PowerFactorBand,
    ProcessDefinition,
    ProviderEvent,
    ServicePoint,
    ServiceStation,
    StaffAssignment,
    StepDefinition,
    Substation,
    Tariff,
    TariffPeriodPrice,
    TariffTier,
    TariffVersion,
    Ticket,
    TicketDaySequence,
    TicketEvent,
    TicketReporter,
    TicketStep,
    TimeBand,
    TransformerArea,
    TransitionDefinition,
    WarningThreshold,
    WorkCalendarDay,
)
from core.models.audit_flags import AuditFlag
from core.models.banks import Bank, BankBatch, WithholdingAgreement
from core.models.counter import CounterCashier, CounterOutlet, CounterReceipt, CounterSettlement, DepositAccount
from core.models.meter_events import MeterEvent, OutageDetectionRule
from core.models.tickets import TicketAttachment
from core.models.topology_imports import TopologyImport
from core.services.outages import outage_restore
from core.services.personal_data import PersonalDataShown, personal_data_access_record, personal_data_shown_ticket
from core.services.process_definitions import (
    ProcessDefinitionActivationRefused,
    process_definition_activate,
    process_definition_new_version,
    process_definition_validate,
)

admin.site.site_header = _("95598 营销业务管理")
admin.site.site_title = _("95598 营销业务管理")
admin.site.index_title = _("业务数据")


class ReadOnlyAdminMixin:
    """Viewable by whoever holds the view permission; never added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Organisation


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "company", "area_kind"]
    list_filter = ["area_kind"]
    list_select_related = ["company"]
    search_fields = ["code", "name"]


@admin.register(ServiceStation)
class ServiceStationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "branch", "area_kind"]
    list_filter = ["area_kind", "branch"]
    list_select_related = ["branch"]
    search_fields = ["code", "name", "branch__name"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "group"]
    list_select_related = ["group"]
    search_fields = ["code", "name"]


@admin.register(StaffAssignment)
class StaffAssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "post", "branch", "station", "active"]
    list_filter = ["active", "post", "branch"]
    list_select_related = ["user", "post", "branch", "station__branch"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "post__name"]
    raw_id_fields = ["user", "station"]


# Customers and accounts


class PersonalDataAuditedAdmin(admin.ModelAdmin):
    """Pages that show a customer's personal data in full (customers, accounts, tickets, calls, restoration
    callbacks): each opening of a change form or of a list page leaves a PersonalDataAccess row per customer shown,
    for the auditors. A record that names no customer or account cannot be attributed and leaves none."""

    # What the change form and the list page show in full (core.services.personal_data.RECORDED_FIELDS names).
    personal_data_fields: tuple[str, ...] = ()
    personal_data_list_fields: tuple[str, ...] = ()

    def personal_data_shown(self, obj, *, listed: bool) -> list[PersonalDataShown]:
        fields = self.personal_data_list_fields if listed else self.personal_data_fields
        if isinstance(obj, Customer):
            return [PersonalDataShown(customer_id=obj.pk, account_id=None, fields=fields)]
        if isinstance(obj, Account):
            return [PersonalDataShown(customer_id=obj.customer_id, account_id=obj.pk, fields=fields)]
        account_id = obj.account_id
        customer_id = obj.customer_id if hasattr(obj, "customer_id") else None
        customer_id = customer_id or (obj.account.customer_id if account_id else None)
        if customer_id is None or not fields:
            return []
        return [PersonalDataShown(customer_id=customer_id, account_id=account_id, fields=fields)]

    def _record(self, request, objects, context: str, *, listed: bool) -> None:
        personal_data_access_record(
            staff=request.user, context=context,
            shown=[shown for obj in objects for shown in self.personal_data_shown(obj, listed=listed)],
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = (getattr(response, "context_data", None) or {}).get("original")
        if original is not None and original.pk is not None:
            self._record(request, [original], f"admin:{self.opts.model_name}:{original.pk}", listed=False)
        return response

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            self._record(request, changelist.result_list, f"admin:{self.opts.model_name}:list", listed=True)
        return response


@admin.register(Customer)
class CustomerAdmin(PersonalDataAuditedAdmin):
    list_display = ["name", "kind", "phone", "id_number_masked", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "phone", "email"]
    # The ID-number digest is a lookup key, never shown; the masked form is set when the ID is recorded.
    exclude = ["id_number_hash"]
    readonly_fields = ["id_number_masked", "created_at"]

    personal_data_fields = ("name", "phone", "email")
    personal_data_list_fields = ("name", "phone")


@admin.register(Account)
class AccountAdmin(PersonalDataAuditedAdmin):
    list_display = ["number", "name", "customer", "branch", "station", "category", "tariff", "status", "balance"]
    list_filter = ["category", "status", "billing_mode", "branch"]
    list_select_related = ["customer", "branch", "station__branch", "tariff"]
    search_fields = ["number", "name", "customer__name", "customer__phone", "address"]
    raw_id_fields = ["customer", "station"]
    # The balance is the ledger's running sum; it moves only with a ledger posting.
    readonly_fields = ["balance"]

    # The list names the holder (the customer column) and the account; the form shows the address too.
    personal_data_fields = ("account_name", "address")
    personal_data_list_fields = ("name", "account_name")


# Grid and metering


@admin.register(Substation)
class SubstationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "branch"]
    list_filter = ["branch"]
    list_select_related = ["branch"]
    search_fields = ["code", "name"]


@admin.register(Feeder)
class FeederAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "substation"]
    list_select_related = ["substation"]
    search_fields = ["code", "name", "substation__name"]


@admin.register(TransformerArea)
class TransformerAreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "feeder", "capacity_kva"]
    list_select_related = ["feeder"]
    search_fields = ["code", "name", "feeder__name"]
    raw_id_fields = ["feeder"]


@admin.register(ServicePoint)
class ServicePointAdmin(admin.ModelAdmin):
    list_display = ["code", "account", "transformer_area", "voltage"]
    list_select_related = ["account", "transformer_area"]
    search_fields = ["code", "account__number", "account__name"]
    raw_id_fields = ["account", "transformer_area"]


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ["asset_number", "service_point", "multiplier", "tou_capable", "installed_on", "removed_on"]
    list_filter = ["tou_capable"]
    list_select_related = ["service_point"]
    search_fields = ["asset_number", "service_point__code", "service_point__account__number"]
    raw_id_fields = ["service_point"]


@admin.register(MeterReading)
class MeterReadingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Readings are recorded through the readings service, which works out consumption and runs the checks."""

    list_display = ["meter", "account", "read_on", "period", "total", "consumption", "source", "status"]
    list_filter = ["status", "source"]
    list_select_related = ["meter", "account"]
    search_fields = ["meter__asset_number", "account__number"]
    date_hierarchy = "read_on"


# Tariffs


class TariffVersionForm(forms.ModelForm):
    """Checks that a version carries the prices its structure and capacity basis need."""

    class Meta:
        model = TariffVersion
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        structure = cleaned.get("structure")
        if structure == TariffVersion.Structure.FLAT and cleaned.get("flat_price") is None:
            self.add_error("flat_price", _("单一电价须填写电度电价"))
        basis = cleaned.get("capacity_basis")
        if basis == TariffVersion.CapacityBasis.CAPACITY and not cleaned.get("capacity_price"):
            self.add_error("capacity_price", _("按容量计收基本电费须填写容量电价"))
        if basis == TariffVersion.CapacityBasis.DEMAND and not cleaned.get("demand_price"):
            self.add_error("demand_price", _("按需量计收基本电费须填写需量电价"))
        return cleaned


class TierFormSet(forms.BaseInlineFormSet):
    """A tiered version needs tiers numbered 1..n with rising tops and an open last tier."""

    def clean(self):
        super().clean()
        if self.instance.structure not in (TariffVersion.Structure.TIERED, TariffVersion.Structure.TIERED_TOU):
            return
        tiers = sorted(
            (form.cleaned_data for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")),
            key=lambda data: data["number"],
        )
        if not tiers:
            raise forms.ValidationError(_("阶梯电价至少需要一个档次"))
        if [data["number"] for data in tiers] != list(range(1, len(tiers) + 1)):
            raise forms.ValidationError(_("档次应从1开始连续编号"))
        if tiers[-1]["upper_kwh"] is not None:
            raise forms.ValidationError(_("最后一档不应设上限"))
        uppers = [data["upper_kwh"] for data in tiers[:-1]]
        if None in uppers or uppers != sorted(set(uppers)):
            raise forms.ValidationError(_("各档上限应逐档递增，仅最后一档不设上限"))


class PeriodPriceFormSet(forms.BaseInlineFormSet):
    """A time-of-use version needs at least a peak and a valley price."""

    def clean(self):
        super().clean()
        if self.instance.structure not in (TariffVersion.Structure.TOU, TariffVersion.Structure.TIERED_TOU):
            return
        periods = {
            form.cleaned_data["period"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        }
        if not {"peak", "valley"} <= periods:
            raise forms.ValidationError(_("分时电价至少需要峰、谷两个时段的电价"))


class VersionInUseMixin:
    """A version that bills were issued on is history: it stays as it was, a price change is a new version."""

    def _version_in_use(self, obj) -> bool:
        version = obj if isinstance(obj, TariffVersion) else getattr(obj, "version", None)
        return version is not None and version.pk is not None and version.bills.exists()

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and self._version_in_use(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and self._version_in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        if obj is not None and self._version_in_use(obj):
            return False
        if isinstance(self, admin.options.InlineModelAdmin):
            return super().has_add_permission(request, obj)
        return super().has_add_permission(request)


class TariffTierInline(VersionInUseMixin, admin.TabularInline):
    model = TariffTier
    formset = TierFormSet
    extra = 0


class TariffPeriodPriceInline(VersionInUseMixin, admin.TabularInline):
    model = TariffPeriodPrice
    formset = PeriodPriceFormSet
    extra = 0


class TimeBandInline(VersionInUseMixin, admin.TabularInline):
    model = TimeBand
    extra = 0


class TariffVersionInline(admin.TabularInline):
    model = TariffVersion
    form = TariffVersionForm
    fields = ["effective_from", "structure", "tier_basis", "flat_price", "capacity_basis", "note"]
    extra = 0
    show_change_link = True


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "category"]
    list_filter = ["category"]
    search_fields = ["code", "name"]
    inlines = [TariffVersionInline]


@admin.register(TariffVersion)
class TariffVersionAdmin(VersionInUseMixin, admin.ModelAdmin):
    form = TariffVersionForm
    list_display = ["tariff", "effective_from", "structure", "tier_basis", "flat_price", "capacity_basis"]
    list_filter = ["structure", "capacity_basis", "tariff__category"]
    list_select_related = ["tariff"]
    search_fields = ["tariff__code", "tariff__name", "note"]
    inlines = [TariffTierInline, TariffPeriodPriceInline, TimeBandInline]


@admin.register(TariffTier)
class TariffTierAdmin(VersionInUseMixin, admin.ModelAdmin):
    list_display = ["version", "number", "upper_kwh", "price"]
    list_select_related = ["version__tariff"]
    search_fields = ["version__tariff__code", "version__tariff__name"]


@admin.register(TariffPeriodPrice)
class TariffPeriodPriceAdmin(VersionInUseMixin, admin.ModelAdmin):
    list_display = ["version", "period", "price"]
    list_filter = ["period"]
    list_select_related = ["version__tariff"]
    search_fields = ["version__tariff__code", "version__tariff__name"]


@admin.register(TimeBand)
class TimeBandAdmin(VersionInUseMixin, admin.ModelAdmin):
    list_display = ["version", "period", "starts_at", "ends_at"]
    list_filter = ["period"]
    list_select_related = ["version__tariff"]
    search_fields = ["version__tariff__code", "version__tariff__name"]


@admin.register(PowerFactorBand)
class PowerFactorBandAdmin(admin.ModelAdmin):
    list_display = ["standard", "pf_from", "pf_to", "percent"]
    list_filter = ["standard"]


@admin.register(CollectionPolicy)
class CollectionPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "category",
        "payment_term_days",
        "daily_rate_current_year",
        "daily_rate_prior_years",
        "minimum_late_fee",
    ]


# Billing and money: read-only


class BillLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BillLine
    extra = 0


@admin.register(Bill)
class BillAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "account", "period", "kind", "state", "kwh", "total", "amount_paid", "due_date"]
    list_filter = ["state", "kind", "period"]
    list_select_related = ["account"]
    search_fields = ["number", "account__number", "account__name"]
    inlines = [BillLineInline]


@admin.register(BillLine)
class BillLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["bill", "position", "kind", "label", "quantity", "unit_price", "amount"]
    list_filter = ["kind"]
    list_select_related = ["bill"]
    search_fields = ["bill__number"]


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Runs are started and resumed by the billing service; here they are watched."""

    list_display = [
        "branch",
        "period",
        "status",
        "accounts_total",
        "accounts_done",
        "bills_issued",
        "accounts_held",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "branch", "period"]
    list_select_related = ["branch"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "bill", "memo", "created_by"]
    list_filter = ["kind"]
    list_select_related = ["account", "bill", "created_by"]
    search_fields = ["account__number", "bill__number", "memo"]


class PaymentAllocationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentAllocation
    extra = 0


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "account", "amount", "channel", "status", "unallocated", "external_reference"]
    list_filter = ["channel", "status"]
    list_select_related = ["account"]
    search_fields = ["account__number", "idempotency_key", "external_reference"]
    date_hierarchy = "received_at"
    inlines = [PaymentAllocationInline]


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payment", "bill", "late_fee", "amount", "created_at"]
    list_select_related = ["payment", "bill", "late_fee__bill"]
    search_fields = ["payment__account__number", "bill__number"]


@admin.register(LateFee)
class LateFeeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "account",
        "bill",
        "accrued_from",
        "accrued_to",
        "days",
        "base_amount",
        "amount",
        "amount_paid",
        "amount_waived",
        "waived_by",
    ]
    list_select_related = ["account", "bill", "waived_by"]
    search_fields = ["account__number", "bill__number"]


# Process definitions: edited as inactive versions, switched on by the activate action


class DefinitionFrozenMixin:
    """An active version, or one tickets were opened on, is history: a change is a new version."""

    def _definition_frozen(self, obj) -> bool:
        definition = obj if isinstance(obj, ProcessDefinition) else getattr(obj, "definition", None)
        if definition is None or definition.pk is None:
            return False
        return definition.active or definition.tickets.exists()

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and self._definition_frozen(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and self._definition_frozen(obj):
            return False
        return super().has_delete_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        if obj is not None and self._definition_frozen(obj):
            return False
        if isinstance(self, admin.options.InlineModelAdmin):
            return super().has_add_permission(request, obj)
        return super().has_add_permission(request)


def _edited_definition_id(request) -> int | None:
    """The id of the definition whose change page this request is for, if any."""
    object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
    return int(object_id) if object_id and str(object_id).isdigit() else None


class StepDefinitionInline(DefinitionFrozenMixin, admin.StackedInline):
    model = StepDefinition
    extra = 0
    ordering = ["order"]
    fields = [
        ("order", "code", "post"),
        ("name", "name_en"),
        ("customer_text", "customer_text_en"),
        ("limit_kind", "limit_value", "limit_by_area"),
        ("priority", "auto_skip_when_overdue"),
        "fields",
        "checks",
    ]


class TransitionDefinitionInline(DefinitionFrozenMixin, admin.TabularInline):
    """Transitions choose among this definition's own steps; an empty target ends the process."""

    model = TransitionDefinition
    extra = 0
    fields = ["from_step", "kind", "to_step", "condition", "order", "label"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_step", "to_step")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("from_step", "to_step"):
            definition_id = _edited_definition_id(request)
            kwargs["queryset"] = (
                StepDefinition.objects.filter(definition_id=definition_id).order_by("order")
                if definition_id is not None
                else StepDefinition.objects.none()
            )
            if db_field.name == "to_step":
                kwargs["empty_label"] = _("（结束）")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ProcessDefinition)
class ProcessDefinitionAdmin(DefinitionFrozenMixin, admin.ModelAdmin):
    list_display = ["business_type", "version", "name", "active", "commitment", "step_count", "created_at"]
    list_filter = ["active", "business_type"]
    search_fields = ["name", "business_type"]
    readonly_fields = ["active", "created_at", "validation_errors"]
    fields = [
        ("business_type", "version"),
        "name",
        ("commitment_kind", "commitment_value"),
        ("allows_anonymous", "requires_account"),
        ("active", "created_at"),
        "validation_errors",
    ]
    inlines = [StepDefinitionInline, TransitionDefinitionInline]
    actions = ["new_version", "activate"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(step_total=Count("steps"))

    @admin.display(description=_("环节数"), ordering="step_total")
    def step_count(self, obj) -> int:
        return obj.step_total

    @admin.display(description=_("承诺时限"))
    def commitment(self, obj) -> str:
        if not obj.commitment_kind:
            return "-"
        return f"{obj.commitment_value} {obj.get_commitment_kind_display()}"

    @admin.display(description=_("校验结果"))
    def validation_errors(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        errors = process_definition_validate(obj)
        if not errors:
            return gettext("校验通过")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((error,) for error in errors)))

    def save_related(self, request, form, formsets, change):
        """A draft may be saved half-built; what still stops it from being activated is shown at once."""
        super().save_related(request, form, formsets, change)
        errors = process_definition_validate(form.instance)
        if errors:
            self.message_user(
                request,
                gettext("流程定义尚未通过校验，不能启用：%(errors)s") % {"errors": "；".join(errors)},
                messages.WARNING,
            )

    @admin.action(description=_("复制为新版本（未启用）"), permissions=["add"])
    def new_version(self, request, queryset):
        created = [process_definition_new_version(definition=definition) for definition in queryset]
        for definition in created:
            self.message_user(
                request,
                gettext("已创建“%(name)s”的新版本 v%(version)s（未启用），修改后请启用")
                % {"name": definition.name, "version": definition.version},
                messages.SUCCESS,
            )
        if len(created) == 1:
            return HttpResponseRedirect(reverse("admin:core_processdefinition_change", args=[created[0].pk]))
        return None

    @admin.action(description=_("启用所选版本"), permissions=["change"])
    def activate(self, request, queryset):
        definitions = list(queryset.order_by("business_type", "version"))
        types = [definition.business_type for definition in definitions]
        if len(types) != len(set(types)):
            self.message_user(request, gettext("同一业务类型只能启用一个版本"), messages.ERROR)
            return
        for definition in definitions:
            try:
                process_definition_activate(definition=definition)
            except ProcessDefinitionActivationRefused as refused:
                self.message_user(request, str(refused), messages.ERROR)
            else:
                self.message_user(request, gettext("已启用“%(definition)s”") % {"definition": definition},
                                  messages.SUCCESS)


@admin.register(StepDefinition)
class StepDefinitionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Steps are edited inside their process definition, where the whole process is validated."""

    list_display = ["definition", "order", "code", "name", "post", "limit_kind", "limit_value", "priority"]
    list_filter = ["definition__business_type", "post", "priority"]
    list_select_related = ["definition", "post"]
    search_fields = ["code", "name", "definition__name"]


@admin.register(TransitionDefinition)
class TransitionDefinitionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Transitions are edited inside their process definition, where the whole process is validated."""

    list_display = ["definition", "from_step", "kind", "to_step", "condition", "order", "label"]
    list_filter = ["kind", "definition__business_type"]
    list_select_related = ["definition", "from_step", "to_step"]


# Tickets: read-only, they move only through core.services.tickets


class TicketStepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TicketStep
    extra = 0
    fields = ["sequence", "step_definition", "state", "post", "assignee", "arrived_at", "due_at", "finished_at"]
    ordering = ["sequence"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("step_definition", "post", "assignee")


class TicketEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = ["at", "kind", "actor_label", "note", "public"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, PersonalDataAuditedAdmin):
    list_display = ["number", "business_type", "channel", "state", "branch", "summary", "opened_at", "due_at"]
    list_filter = ["state", "business_type", "channel", "branch"]
    list_select_related = ["branch"]

    def personal_data_shown(self, obj, *, listed: bool) -> list[PersonalDataShown]:
        # The list shows no personal data; the form shows what the staff ticket page shows.
        return [] if listed else personal_data_shown_ticket(obj)
    search_fields = ["number", "contact_phone", "account__number", "summary"]
    date_hierarchy = "opened_at"
    inlines = [TicketStepInline, TicketEventInline]


@admin.register(TicketStep)
class TicketStepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["ticket", "step_definition", "state", "post", "branch", "assignee", "due_at", "finished_at"]
    list_filter = ["state", "post", "branch"]
    list_select_related = ["ticket", "step_definition", "post", "branch", "assignee"]
    search_fields = ["ticket__number"]


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["ticket", "kind", "at", "actor", "actor_label", "public"]
    list_filter = ["kind", "public"]
    list_select_related = ["ticket", "actor"]
    search_fields = ["ticket__number"]
    date_hierarchy = "at"


@admin.register(TicketAttachment)
class TicketAttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Documents filed with tickets, added only through the staff ticket page (type and size checked there)."""

    list_display = ["ticket", "name", "content_type", "size", "uploaded_by", "uploaded_at"]
    list_select_related = ["ticket", "uploaded_by"]
    search_fields = ["ticket__number", "name"]
    date_hierarchy = "uploaded_at"
    fields = ["ticket", "step", "name", "content_type", "size", "uploaded_by", "uploaded_at"]


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["ticket", "step", "post", "branch", "user", "reason", "minutes_late", "created_at"]
    list_filter = ["reason", "post", "branch"]
    list_select_related = ["ticket", "step__ticket", "step__step_definition", "post", "branch", "user"]
    search_fields = ["ticket__number", "user__username"]


@admin.register(TicketDaySequence)
class TicketDaySequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The day's last ticket number, advanced only by ticket_number_next under a row lock."""

    list_display = ["day", "last"]


# Calendar and warnings: operators' data


@admin.register(WorkCalendarDay)
class WorkCalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "name"]
    list_filter = ["is_workday"]
    search_fields = ["name"]
    date_hierarchy = "date"


@admin.register(WarningThreshold)
class WarningThresholdAdmin(admin.ModelAdmin):
    list_display = ["user", "minutes_before_due", "percent_elapsed"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    raw_id_fields = ["user"]


# Outages: announced, revised, restored and cancelled only through core.services.outages (the CMS notice,
# fault handling), which check the notice rules and tell customers; here they are looked up.


class OutageAreaInline(admin.TabularInline):
    model = OutageArea
    fields = ["transformer_area"]
    readonly_fields = ["transformer_area"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transformer_area")


class OutageRestoreForm(forms.Form):
    restored_at = forms.DateTimeField(
        label=_("实际恢复送电时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


@admin.action(description=_("登记恢复送电"), permissions=["restore"])
def outages_restore(modeladmin, request, queryset):
    """Record that power is back on the chosen outages (core.services.outages.outage_restore), at a time asked for
    on a page of its own; each refusal (not announced, a time before the start or in the future) is said per outage."""
    outages = list(queryset.select_related("branch").order_by("starts_at", "pk"))
    if "apply" in request.POST:
        form = OutageRestoreForm(request.POST)
        if form.is_valid():
            for outage in outages:
                try:
                    outage_restore(outage=outage, restored_at=form.cleaned_data["restored_at"], user=request.user)
                except OutageError as refusal:
                    modeladmin.message_user(request, f"{outage.title}: {refusal.message}", messages.ERROR)
                else:
                    modeladmin.message_user(
                        request, _("%(title)s 已登记恢复送电") % {"title": outage.title}, messages.SUCCESS
                    )
            return None
    else:
        form = OutageRestoreForm(initial={"restored_at": timezone.localtime().replace(second=0, microsecond=0)})
    return TemplateResponse(request, "admin/core/outage/restore.html", {
        **modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta, "outages": outages,
        "form": form, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    })


class OutagePastExpectedEndFilter(admin.SimpleListFilter):
    """The outages to chase: past their expected end with no restoration recorded."""

    title = _("恢复送电")
    parameter_name = "restoration"

    def lookups(self, request, model_admin):
        return [("overdue", _("已过预计恢复时间，未登记恢复送电"))]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(state=OutageState.ANNOUNCED, ends_at__lte=timezone.now())
        return queryset


@admin.register(Outage)
class OutageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["title", "branch", "kind", "state", "starts_at", "ends_at", "affected_accounts", "announced_at"]
    list_filter = [OutagePastExpectedEndFilter, "state", "kind", "branch"]
    list_select_related = ["branch"]
    search_fields = ["title", "streets", "source_key"]
    actions = [outages_restore]
    date_hierarchy = "starts_at"
    fields = [
        "branch", "kind", "state", "title", "reason", "streets", "starts_at", "ends_at", "restored_at",
        "substations", "feeders", "transformer_areas", "affected_accounts", "source_key", "announced_at",
        "announced_by", "revised_at", "revised_by", "restored_by", "cancelled_at", "cancelled_by", "cancelled_reason",
        "updated_at",
    ]
    inlines = [OutageAreaInline]

    def has_restore_permission(self, request) -> bool:
        return request.user.has_perm("core.change_outage")


@admin.register(OutageArea)
class OutageAreaAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The lookup table "is this account affected": an outage's picks expanded to transformer areas."""

    list_display = ["outage", "transformer_area"]
    list_select_related = ["outage", "transformer_area"]
    search_fields = ["outage__title", "transformer_area__name", "transformer_area__code"]


# Portal access, online payments and fault reporters: written only by core services, read here.


@admin.register(AccountBinding)
class AccountBindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["account", "user", "label", "method", "bound_at", "unbound_at"]
    list_filter = ["method"]
    list_select_related = ["account", "user"]
    search_fields = ["account__number", "user__username"]
    raw_id_fields = ["user", "account"]


@admin.register(BindingAttempt)
class BindingAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["attempted_at", "user", "ip_address", "account_number", "succeeded"]
    list_filter = ["succeeded"]
    search_fields = ["account_number", "ip_address", "user__username"]
    date_hierarchy = "attempted_at"


@admin.register(BindingCode)
class BindingCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["account", "user", "sent_at", "expires_at", "attempts", "used_at"]
    list_select_related = ["account", "user"]
    exclude = ["code_hash"]


@admin.register(OnlinePayment)
class OnlinePaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["provider_reference", "account", "purpose", "amount", "state", "created_at", "succeeded_at"]
    list_filter = ["state", "purpose", "provider"]
    list_select_related = ["account"]
    search_fields = ["provider_reference", "account__number"]
    date_hierarchy = "created_at"


@admin.register(OnlineRefund)
class OnlineRefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["provider_reference", "online_payment", "amount", "requested_by", "requested_at", "confirmed_at"]
    search_fields = ["provider_reference", "online_payment__provider_reference"]


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "provider", "type", "object_reference", "received_at", "processed_at", "outcome"]
    list_filter = ["provider", "type"]
    search_fields = ["event_id", "object_reference"]


@admin.register(TicketReporter)
class TicketReporterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["ticket", "phone", "account", "channel", "reported_at", "told_restored_at"]
    list_select_related = ["ticket", "account"]
    search_fields = ["ticket__number", "phone"]


# Call centre (written by core.services.calls; read here, never edited)


class CallLegInline(admin.TabularInline):
    model = CallLeg
    extra = 0
    can_delete = False
    fields = ["unique_id", "channel", "caller_number", "started_at", "ended_at", "hangup_cause", "hangup_cause_text"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CallTicketInline(admin.TabularInline):
    model = CallTicket
    extra = 0
    can_delete = False
    fields = ["ticket", "relation", "at", "by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, PersonalDataAuditedAdmin):
    list_display = ["call_key", "caller_number", "state", "outcome", "queue", "agent", "started_at",
                    "queue_wait_seconds", "talk_seconds"]
    list_filter = ["state", "outcome", "transport", "storm_informed"]
    list_select_related = ["agent", "account"]
    # The calling number, recorded against the caller once identified.
    personal_data_fields = personal_data_list_fields = ("phone",)
    search_fields = ["call_key", "caller_number", "account__number"]
    date_hierarchy = "started_at"
    raw_id_fields = ["customer", "account", "outage", "agent"]
    inlines = [CallLegInline, CallTicketInline]


@admin.register(AgentPresence)
class AgentPresenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["agent", "interface", "queue", "state", "reason", "since"]
    list_filter = ["state", "queue"]
    list_select_related = ["agent"]


@admin.register(AgentStateChange)
class AgentStateChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["agent", "state", "reason", "at"]
    list_filter = ["state"]
    list_select_related = ["agent"]
    date_hierarchy = "at"


@admin.register(RestorationCallback)
class RestorationCallbackAdmin(ReadOnlyAdminMixin, PersonalDataAuditedAdmin):
    list_display = ["outage", "phone", "account", "requested_at", "notified_at"]
    list_select_related = ["outage", "account"]
    personal_data_fields = personal_data_list_fields = ("phone", "account_name")
    search_fields = ["phone", "account__number"]


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The auditors' view of who opened which customer's personal data."""

    list_display = ["at", "staff", "customer", "account", "fields", "context"]
    list_filter = ["context"]
    list_select_related = ["staff", "customer", "account"]
    search_fields = ["customer__name", "account__number", "staff__username", "context"]
    date_hierarchy = "at"


@admin.register(CallLeg)
class CallLegAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["unique_id", "call", "channel", "started_at", "ended_at", "hangup_cause_text"]
    list_select_related = ["call"]
    search_fields = ["unique_id", "channel", "call__call_key"]


@admin.register(CallTicket)
class CallTicketAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["call", "ticket", "relation", "at", "by"]
    list_select_related = ["call", "ticket", "by"]
    search_fields = ["ticket__number", "call__call_key"]


@admin.register(TrackingAttempt)
class TrackingAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["ip_address", "succeeded", "attempted_at"]
    list_filter = ["succeeded"]
    search_fields = ["ip_address"]


# Business-hall counter collection: administrators seat cashiers at outlets and set each branch's deposit
# accounts; receipts and settlements are written only by core.services.counter.
@admin.register(CounterOutlet)
class CounterOutletAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "branch", "active"]
    list_filter = ["branch", "active"]
    list_select_related = ["branch"]
    search_fields = ["code", "name"]


@admin.register(CounterCashier)
class CounterCashierAdmin(admin.ModelAdmin):
    list_display = ["user", "outlet", "active"]
    list_filter = ["outlet__branch", "active"]
    list_select_related = ["user", "outlet"]
    autocomplete_fields = ["user"]


@admin.register(DepositAccount)
class DepositAccountAdmin(admin.ModelAdmin):
    list_display = ["branch", "bank_name", "account_number", "active"]
    list_filter = ["branch", "active"]
    list_select_related = ["branch"]


@admin.register(CounterReceipt)
class CounterReceiptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "taken_at", "account", "method", "amount", "kind", "cashier", "outlet"]
    list_filter = ["method", "kind", "outlet__branch"]
    list_select_related = ["account", "cashier", "outlet"]
    search_fields = ["number", "account__number", "slip_reference"]
    date_hierarchy = "taken_at"


@admin.register(CounterSettlement)
class CounterSettlementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["business_day", "cashier", "outlet", "total", "receipt_count", "state"]
    list_filter = ["state", "outlet__branch"]
    list_select_related = ["cashier", "outlet"]


# Banks: their file layouts are data; agreements are signed at the counter or by the bank; batches are written only
# by core.services.bank_exchange.
@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "file_style", "file_encoding", "api_client_name", "active"]
    list_filter = ["file_style", "active"]


@admin.register(WithholdingAgreement)
class WithholdingAgreementAdmin(admin.ModelAdmin):
    list_display = ["account", "bank", "bank_account_name", "signed_on", "status", "cancelled_on"]
    list_filter = ["bank", "status"]
    list_select_related = ["account", "bank"]
    search_fields = ["account__number", "bank_account_name"]
    raw_id_fields = ["account"]


@admin.register(BankBatch)
class BankBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["business_date", "bank", "kind", "batch_number", "status", "record_count", "total_amount"]
    list_filter = ["bank", "kind", "status"]
    list_select_related = ["bank"]
    date_hierarchy = "business_date"


@admin.register(AuditFlag)
class AuditFlagAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: flags are raised by the audit scan and resolved on /staff/reports/quality/ (audit_rules)."""

    list_display = ["raised_at", "rule", "account", "branch", "period", "amount", "state"]
    list_filter = ["rule", "state", "branch"]
    list_select_related = ["account", "branch"]
    search_fields = ["account__number"]


@admin.register(OutageDetectionRule)
class OutageDetectionRuleAdmin(admin.ModelAdmin):
    list_display = [
        "branch", "min_meters", "off_share_percent", "window_minutes", "restore_share_percent", "expected_minutes"
    ]


@admin.register(MeterEvent)
class MeterEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "meter", "kind", "source", "received_at", "outage"]
    list_filter = ["kind", "source"]
    list_select_related = ["meter", "outage"]
    search_fields = ["meter__asset_number"]
    date_hierarchy = "occurred_at"


@admin.register(TopologyImport)
class TopologyImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "mode", "status", "source", "scope_branch", "created", "updated", "moved", "retired"]
    list_filter = ["mode", "status"]
