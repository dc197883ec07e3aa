"""Forms of the staff ticket pages. They render inputs and collect raw values; the ticket services validate.

A step's form is built from its StepDefinition.fields. Its fields are all optional here on purpose: completeness
and every other rule are checked once, by the engine, and its messages (TicketValidationError.errors) are shown
against the fields they name.
"""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from core.models import Branch, BusinessType, Post

STEP_FIELD_PREFIX = "field_"


def _step_field(spec: dict) -> forms.Field:
    label = spec.get("label") or spec["name"]
    kind = spec.get("type", "text")
    attrs = {"required": False, "label": label}
    if kind == "textarea":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **attrs)
    if kind in ("integer", "decimal"):
        widget_attrs = {"inputmode": "decimal" if kind == "decimal" else "numeric"}
        for bound in ("min", "max"):
            if spec.get(bound) is not None:
                widget_attrs[bound] = spec[bound]
        if kind == "decimal":
            widget_attrs["step"] = "any"
        return forms.CharField(widget=forms.NumberInput(attrs=widget_attrs), **attrs)
    if kind == "date":
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **attrs)
    if kind == "datetime":
        return forms.CharField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **attrs)
    if kind == "choice":
        choices = [("", _("请选择"))] + [(str(value), text) for value, text in spec.get("choices", [])]
        return forms.ChoiceField(choices=choices, **attrs)
    if kind == "boolean":
        return forms.BooleanField(**attrs)
    if kind == "phone":
        return forms.CharField(widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}), **attrs)
    text_attrs = {"maxlength": spec["max_length"]} if spec.get("max_length") else {}
    return forms.CharField(widget=forms.TextInput(attrs=text_attrs), **attrs)


class StepForm(forms.Form):
    """The current step's inputs (from its definition) and an internal note."""

    note = forms.CharField(label=_("内部备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, field_specs: list[dict], initial_data: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.field_specs = field_specs
        note = self.fields.pop("note")
        for spec in field_specs:
            name = STEP_FIELD_PREFIX + spec["name"]
            self.fields[name] = _step_field(spec)
            if initial_data and spec["name"] in initial_data:
                self.initial[name] = initial_data[spec["name"]]
        self.fields["note"] = note

    def raw_data(self) -> dict:
        """The submitted values by field name, as the browser sent them (a checkbox left unticked is false)."""
        raw = {}
        for spec in self.field_specs:
            key = self.add_prefix(STEP_FIELD_PREFIX + spec["name"])
            if spec.get("type") == "boolean":
                raw[spec["name"]] = key in self.data
            else:
                raw[spec["name"]] = self.data.get(key, "")
        return raw

    def note_value(self) -> str:
        return self.data.get(self.add_prefix("note"), "").strip()

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        """Put the engine's messages against the inputs they name; "__all__" and unknown names go on top."""
        for name, messages in errors.items():
            target = STEP_FIELD_PREFIX + name
            for message in messages:
                self.add_error(target if target in self.fields else None, message)

    def full_clean(self):
        """Bound data is never cleaned here (the engine does it); only errors we add are shown."""
        self._errors = forms.utils.ErrorDict()
        self.cleaned_data = {}


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("此项为必填项")},
    )


class ReturnForm(ReasonForm):
    to_step_code = forms.ChoiceField(label=_("退回到"))

    def __init__(self, *args, targets: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_step_code"].choices = [(step.code, step.name) for step in targets]
        self.order_fields(["to_step_code", "reason"])


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("派给"), queryset=get_user_model().objects.none(), required=False, empty_label=_("退回岗位待领池")
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = candidates


class AttachmentForm(forms.Form):
    """One document to file with the ticket; its type and size are checked by the engine (ticket_attachment_add)."""

    file = forms.FileField(
        label=_("附件"), error_messages={"required": _("请选择要上传的文件"), "empty": _("文件是空的")},
        help_text=_("PDF、JPG、PNG、Word 或 Excel，不超过 10 MB"),
        widget=forms.FileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.doc,.docx,.xls,.xlsx"}),
    )


class SupervisionFilterForm(forms.Form):
    branch = forms.ModelChoiceField(
        label=_("县公司"), queryset=Branch.objects.order_by("code"), required=False, empty_label=_("全部")
    )
    business_type = forms.ChoiceField(
        label=_("业务类型"), choices=[("", _("全部"))] + list(BusinessType.choices), required=False
    )
    post = forms.ModelChoiceField(
        label=_("岗位"), queryset=Post.objects.order_by("code"), required=False, empty_label=_("全部")
    )
    date_from = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("结束日期不能早于开始日期"))
        return data
