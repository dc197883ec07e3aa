"""The portal's requests: the applications wizard (type and account, the type's own fields, documents, summary,
ticket number), feedback (complaints, reports, opinions, suggestions, praise) and fault reports. Each view parses,
calls one core service and renders; the wizard keeps its answers in the session until it is submitted."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.errors import DomainError, TicketValidationError
from core.models import Branch, BusinessType
from core.selectors.portal_access import account_bound_or_none, accounts_bound_to
from core.selectors.portal_tickets import (
    application_definition,
    application_fields,
    application_types,
    field_label,
)
from core.services.portal_requests import (
    DraftDocument,
    application_answers_check,
    application_contact_check,
    application_document_discard,
    application_document_stash,
    application_submit,
    fault_report_file,
    feedback_submit,
)
from core.workflows.materials import OTHER, application_material, application_materials
from portal.access import visible_ticket_or_404

from .forms import ApplyTypeForm, DocumentForm, FaultReportForm, FeedbackForm

WIZARD_KEY = "portal_apply"
INPUT_TYPES = {
    "text": "text", "textarea": "textarea", "integer": "number", "decimal": "decimal", "date": "date",
    "datetime": "datetime-local", "choice": "select", "boolean": "checkbox", "phone": "tel",
}


def _error_text(error: DomainError) -> str:
    if isinstance(error, TicketValidationError) and error.errors:
        return "；".join(message for messages_ in error.errors.values() for message in messages_)
    return str(error)


def _bound_accounts(request: HttpRequest):
    return list(accounts_bound_to(user=request.user).order_by("number"))


# --- the wizard's state -----------------------------------------------------------------------------------------


@dataclass
class Wizard:
    """The applications wizard's state as kept in the session."""

    key: str
    business_type: str
    account_number: str
    branch_id: int | None
    answers: dict
    contact: dict
    description: str
    documents: list[dict]

    @classmethod
    def load(cls, request: HttpRequest) -> Wizard | None:
        raw = request.session.get(WIZARD_KEY)
        if not isinstance(raw, dict):
            return None
        try:
            return cls(**raw)
        except TypeError:
            return None

    def save(self, request: HttpRequest) -> None:
        request.session[WIZARD_KEY] = self.__dict__.copy()

    def drafts(self) -> list[DraftDocument]:
        return [DraftDocument.from_dict(d) for d in self.documents]


def _wizard_or_restart(request: HttpRequest):
    """The wizard, its definition and account, or None when it has to start again (no wizard, type withdrawn,
    account unbound meanwhile)."""
    wizard = Wizard.load(request)
    if wizard is None:
        return None
    definition = application_definition(business_type=wizard.business_type)
    account = None
    if wizard.account_number:
        account = account_bound_or_none(user=request.user, number=wizard.account_number)
        if account is None:
            return None
    if definition is None:
        return None
    return wizard, definition, account


def _restart(request: HttpRequest) -> HttpResponse:
    messages.info(request, _("请先选择要办理的业务"))
    return redirect("portal:apply")


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    input_type: str
    required: bool
    value: object
    choices: list
    errors: list
    min: object
    max: object
    max_length: object


def field_rows(specs: list[dict], values: dict, errors: dict) -> list[FieldRow]:
    return [
        FieldRow(
            name=spec["name"], label=field_label(spec), input_type=INPUT_TYPES.get(spec.get("type"), "text"),
            required=bool(spec.get("required")), value=values.get(spec["name"], ""),
            choices=[(str(c[0]), c[1]) for c in spec.get("choices") or []], errors=errors.get(spec["name"], []),
            min=spec.get("min"), max=spec.get("max"), max_length=spec.get("max_length"),
        )
        for spec in specs
    ]


def _display(spec: dict, value) -> str:
    if spec.get("type") == "boolean":
        return _("是") if value else _("否")
    if spec.get("type") == "choice":
        return dict((str(c[0]), c[1]) for c in spec.get("choices") or []).get(str(value), str(value))
    return str(value)


# --- step 1: type and account -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def apply_start(request: HttpRequest) -> HttpResponse:
    accounts = _bound_accounts(request)
    types = application_types()
    form = ApplyTypeForm(request.POST or None, accounts=accounts, types=types)
    if request.method == "POST" and form.is_valid():
        previous = Wizard.load(request)
        if previous is not None:
            for document in previous.drafts():
                application_document_discard(document=document)
        account, branch = form.cleaned_data["account"], form.cleaned_data["branch"]
        Wizard(
            key=f"portal-apply:{uuid.uuid4().hex}", business_type=form.cleaned_data["business_type"],
            account_number=account.number if account else "", branch_id=branch.pk if branch else None,
            answers={}, contact={}, description="", documents=[],
        ).save(request)
        return redirect("portal:apply_details")
    return render(request, "portal/requests/apply_start.html", {"form": form, "types": types,
                                                                "has_accounts": bool(accounts)})


# --- step 2: the type's own fields ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def apply_details(request: HttpRequest) -> HttpResponse:
    state = _wizard_or_restart(request)
    if state is None:
        return _restart(request)
    wizard, definition, account = state
    specs = application_fields(definition=definition)
    errors: dict = {}
    values = {**wizard.answers, **wizard.contact, "description": wizard.description}
    if request.method == "POST":
        answers = {spec["name"]: request.POST.get(spec["name"], "") for spec in specs}
        contact = {name: request.POST.get(name, "") for name in ("contact_name", "contact_phone")}
        description = request.POST.get("description", "").strip()
        values = {**answers, **contact, "description": description}
        try:
            cleaned = application_answers_check(business_type=wizard.business_type, account=account, answers=answers)
        except TicketValidationError as error:
            errors.update(error.errors)
            cleaned = None
        except DomainError as error:
            errors.setdefault("__all__", []).append(str(error))
            cleaned = None
        try:
            people = application_contact_check(contact=contact)
        except TicketValidationError as error:
            errors.update(error.errors)
            people = None
        if not specs and not description:
            errors["description"] = [_("请说明您的诉求")]
        if not errors and cleaned is not None and people is not None:
            wizard.answers, wizard.contact, wizard.description = answers, people, description
            wizard.save(request)
            return redirect("portal:apply_documents")
    contact_specs = [
        {"name": "contact_name", "label": _("联系人"), "type": "text", "required": True, "max_length": 60},
        {"name": "contact_phone", "label": _("联系电话"), "type": "phone", "required": True},
        {"name": "description", "label": _("补充说明"), "type": "textarea", "required": not specs,
         "max_length": 2000},
    ]
    return render(request, "portal/requests/apply_details.html", {
        "business": BusinessType(wizard.business_type).label, "account": account,
        "rows": field_rows(specs, values, errors), "contact_rows": field_rows(contact_specs, values, errors),
        "form_errors": errors.get("__all__", []),
    })


# --- step 3: documents ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistRow:
    label: str
    needed_now: bool
    uploaded: int


def _checklist(wizard: Wizard) -> list[ChecklistRow]:
    """The type's papers (not "other"), each with how many files the customer has uploaded for it."""
    uploaded = [d.material for d in wizard.drafts()]
    return [
        ChecklistRow(label=m.label, needed_now=m.needed_now, uploaded=uploaded.count(m.code))
        for m in application_materials(business_type=wizard.business_type) if m.code != OTHER.code
    ]


def _documents(wizard: Wizard) -> list[tuple[DraftDocument, str]]:
    """The uploads with the name of the paper each is."""
    return [
        (d, (application_material(business_type=wizard.business_type, code=d.material) or OTHER).label)
        for d in wizard.drafts()
    ]


def _first_missing(wizard: Wizard, materials) -> str:
    uploaded = {d.material for d in wizard.drafts()}
    return next((m.code for m in materials if m.code not in uploaded), materials[-1].code)


def _list_index(value: str, length: int) -> int | None:
    """A position posted by a form (0-based, ASCII digits only), or None if it names no item of the list."""
    if not (value.isascii() and value.isdigit()) or len(value) > 4:
        return None
    index = int(value)
    return index if index < length else None


@login_required
@require_http_methods(["GET", "POST"])
def apply_documents(request: HttpRequest) -> HttpResponse:
    state = _wizard_or_restart(request)
    if state is None:
        return _restart(request)
    wizard = state[0]
    if not wizard.contact:
        return redirect("portal:apply_details")
    materials = application_materials(business_type=wizard.business_type)
    form = DocumentForm(materials=materials, initial={"material": _first_missing(wizard, materials)})
    if request.method == "POST":
        if "remove" in request.POST:
            documents = wizard.drafts()
            index = _list_index(request.POST.get("remove", ""), len(documents))
            if index is not None:
                application_document_discard(document=documents[index])
                del wizard.documents[index]
                wizard.save(request)
            return redirect("portal:apply_documents")
        if "next" in request.POST:
            return redirect("portal:apply_summary")
        form = DocumentForm(request.POST, request.FILES, materials=materials)
        if form.is_valid():
            try:
                document = application_document_stash(
                    uploaded_file=form.cleaned_data["file"], business_type=wizard.business_type,
                    material=form.cleaned_data["material"], held=len(wizard.documents),
                )
            except DomainError as error:
                form.add_error("file", str(error))
            else:
                wizard.documents.append(document.as_dict())
                wizard.save(request)
                messages.success(request, _("已上传：%(name)s") % {"name": document.name})
                return redirect("portal:apply_documents")
    return render(request, "portal/requests/apply_documents.html", {
        "business": BusinessType(wizard.business_type).label, "form": form, "documents": _documents(wizard),
        "checklist": _checklist(wizard),
    })


# --- step 4: summary and submission -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def apply_summary(request: HttpRequest) -> HttpResponse:
    state = _wizard_or_restart(request)
    if state is None:
        return _restart(request)
    wizard, definition, account = state
    if not wizard.contact:
        return redirect("portal:apply_details")
    branch = Branch.objects.filter(pk=wizard.branch_id).first() if wizard.branch_id else None
    if request.method == "POST":
        try:
            ticket = application_submit(
                user=request.user, business_type=wizard.business_type, account=account, branch=branch,
                answers=wizard.answers, contact=wizard.contact, description=wizard.description,
                documents=wizard.drafts(), idempotency_key=wizard.key,
            )
        except DomainError as error:
            messages.error(request, _error_text(error))
        else:
            del request.session[WIZARD_KEY]
            return redirect("portal:apply_done", number=ticket.number)
    specs = application_fields(definition=definition)
    rows = [(field_label(spec), _display(spec, wizard.answers.get(spec["name"], "")))
            for spec in specs if wizard.answers.get(spec["name"], "") != ""]
    return render(request, "portal/requests/apply_summary.html", {
        "business": BusinessType(wizard.business_type).label, "account": account, "branch": branch, "rows": rows,
        "contact": wizard.contact, "description": wizard.description, "documents": _documents(wizard),
        "checklist": _checklist(wizard),
    })


@login_required
def apply_done(request: HttpRequest, number: str) -> HttpResponse:
    ticket = visible_ticket_or_404(request, number)
    return render(request, "portal/requests/apply_done.html", {"ticket": ticket})


# --- feedback ---------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest) -> HttpResponse:
    accounts = _bound_accounts(request)
    initial = {"business_type": request.GET.get("type", BusinessType.COMPLAINT)}
    form = FeedbackForm(request.POST or None, accounts=accounts, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = feedback_submit(
                user=request.user, business_type=data["business_type"], summary=data["summary"],
                description=data["description"], account=data["account"], branch=data["branch"],
                complaint_class=data["complaint_class"], anonymous=data["anonymous"],
                contact_name=data["contact_name"], contact_phone=data["contact_phone"],
                idempotency_key=f"portal-feedback:{request.POST.get('form_key', '')}" if request.POST.get(
                    "form_key") else "",
            )
        except TicketValidationError as error:
            for field, problems in error.errors.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return render(request, "portal/requests/feedback_done.html", {"ticket": ticket})
    return render(request, "portal/requests/feedback.html", {"form": form, "form_key": uuid.uuid4().hex})


# --- fault reports ----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def fault_report(request: HttpRequest) -> HttpResponse:
    accounts = _bound_accounts(request)
    form = FaultReportForm(request.POST or None, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outcome = fault_report_file(
                user=request.user, phone=data["phone"], description=data["description"], account=data["account"],
                branch=data["branch"], address=data["address"],
                idempotency_key=f"portal-fault:{request.POST.get('form_key', '')}" if request.POST.get(
                    "form_key") else "",
            )
        except TicketValidationError as error:
            for field, problems in error.errors.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return render(request, "portal/requests/fault_done.html", {
                "ticket": outcome.ticket, "outage": outcome.outage, "joined": outcome.joined,
            })
    return render(request, "portal/requests/fault_report.html", {"form": form, "form_key": uuid.uuid4().hex})
