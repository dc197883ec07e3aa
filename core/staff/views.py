"""Staff ticket pages under /staff/: the work queue, the ticket page with its actions, supervision and its CSV.

Each view checks access, calls one selector or service and renders; the services decide every rule and
their refusals are shown as messages (per field for a step submission), never as a 500.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, TicketAttachmentRejected, TicketValidationError
from core.models import TicketStep
from core.models.tickets import TicketAttachment

from core.selectors.ticket_queue import (
    SupervisionFilters,
    step_assign_candidates,
    staff_is_supervisor,
    staff_name,
    supervision_summary,
    ticket_actions_for,
    ticket_detail,
    ticket_for_staff,
    ticket_visible_to,
    work_queue_for,
)
from core.services.personal_data import personal_data_access_record, personal_data_shown_ticket
from core.services.tickets import (
    ticket_assign,
    ticket_attachment_add,
    ticket_attachment_allowed,
    ticket_claim,
    ticket_resume,
    ticket_step_return,
    ticket_step_skip,
    ticket_step_submit,
    ticket_supervises,
    ticket_suspend,
)

from .access import staff_permission_required
from .charts import on_time_rate_chart
from .exports import supervision_csv
from .forms import AssignForm, AttachmentForm, ReasonForm, ReturnForm, StepForm, SupervisionFilterForm


# Signed-in staff holding core.view_ticket; anyone else is refused (anonymous visitors go to sign in).
staff_required = staff_permission_required("core.view_ticket")


def supervisor_required(view):
    """Supervisors only: core.change_ticketstep or the supervisor role."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not staff_is_supervisor(user=request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(check)


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    work = work_queue_for(user=request.user)
    template = "core/staff/queue_tables.html" if request.GET.get("fragment") else "core/staff/queue.html"
    return render(request, template, {"work": work})


def _visible_ticket(request: HttpRequest, number: str):
    ticket = ticket_for_staff(number=number)
    if ticket is None:
        raise Http404
    if not ticket_visible_to(ticket=ticket, user=request.user):
        raise PermissionDenied
    return ticket


@dataclass(frozen=True)
class AttachmentRow:
    attachment: TicketAttachment
    uploader_name: str


def _attachment_rows(ticket) -> list[AttachmentRow]:
    """The ticket's documents, oldest first, with who filed them (one query)."""
    attachments = TicketAttachment.objects.filter(ticket=ticket).select_related("uploaded_by")
    return [AttachmentRow(a, staff_name(a.uploaded_by)) for a in attachments.order_by("uploaded_at", "id")]


def ticket_page_render(request: HttpRequest, ticket, *, step_form=None, status=200, **forms) -> HttpResponse:
    """The ticket page, with any bound form that failed kept as the user filled it."""
    detail = ticket_detail(ticket=ticket)
    actions = ticket_actions_for(detail=detail, user=request.user, supervisor=ticket_supervises(user=request.user))
    step = detail.current_step
    if actions.can_submit and step_form is None:
        step_form = StepForm(field_specs=step.step_definition.fields, initial_data=ticket.data)
    context = {
        "detail": detail,
        "ticket": ticket,
        "step": step,
        "actions": actions,
        "step_form": step_form if actions.can_submit else None,
        "return_form": forms.get("return_form")
        or (ReturnForm(targets=detail.return_targets) if actions.can_return else None),
        "suspend_form": forms.get("suspend_form") or (ReasonForm(prefix="suspend") if actions.can_suspend else None),
        "skip_form": forms.get("skip_form") or (ReasonForm(prefix="skip") if actions.can_skip else None),
        "assign_form": forms.get("assign_form")
        or (AssignForm(candidates=step_assign_candidates(step=step)) if actions.can_assign else None),
        "attachments": _attachment_rows(ticket),
        "attachment_form": forms.get("attachment_form")
        or (AttachmentForm() if ticket_attachment_allowed(ticket=ticket, user=request.user) else None),
    }
    # The page shows the customer's name, address and contact details in full: the auditors' trail first.
    personal_data_access_record(staff=request.user, shown=personal_data_shown_ticket(ticket),
                                context=f"ticket:{ticket.number}")
    return render(request, "core/staff/ticket.html", context, status=status)


@require_GET
@staff_required
def ticket_page(request: HttpRequest, number: str) -> HttpResponse:
    return ticket_page_render(request, _visible_ticket(request, number))


def _supervision(request: HttpRequest):
    form = SupervisionFilterForm(request.GET or None)
    filters = SupervisionFilters()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = SupervisionFilters(
            branch_id=data["branch"].pk if data["branch"] else None,
            business_type=data["business_type"],
            post_id=data["post"].pk if data["post"] else None,
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
    return form, supervision_summary(filters=filters)


@require_GET
@supervisor_required
def supervision(request: HttpRequest) -> HttpResponse:
    form, summary = _supervision(request)
    context = {
        "form": form,
        "summary": summary,
        "chart": on_time_rate_chart(weeks=summary.weekly),
        "export_query": request.GET.urlencode(),
    }
    return render(request, "core/staff/supervision.html", context)


@require_GET
@supervisor_required
def supervision_export(request: HttpRequest) -> HttpResponse:
    _form, summary = _supervision(request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(supervision_csv(summary=summary), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="supervision-{stamp}.csv"'
    return response


# --- actions: each calls one service; a refusal becomes a message, a failed form re-renders the page ----------


def _back_to_ticket(number: str) -> HttpResponse:
    return redirect("core_staff:ticket", number=number)


def _service_run(request: HttpRequest, number: str, call, *, done: str) -> HttpResponse:
    """Call one engine service for the ticket page: a refusal becomes an error message (never a 500), success
    the `done` message; either way back to the ticket."""
    try:
        call()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return _back_to_ticket(number)


def _current_step_posted(request: HttpRequest, ticket) -> TicketStep | None:
    """The step the form was rendered for, if it is still the ticket's current step; else a message says why."""
    if ticket.current_step_id is None or request.POST.get("step_id") != str(ticket.current_step_id):
        messages.error(request, _("该工单的当前环节已变化，请查看最新状态后再操作"))
        return None
    return ticket.current_step


@require_POST
@staff_required
def step_claim(request: HttpRequest, step_id: int) -> HttpResponse:
    step = get_object_or_404(TicketStep.objects.select_related("ticket"), pk=step_id)
    try:
        ticket_claim(step_id=step.pk, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        next_url = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            return redirect(next_url)
        return redirect("core_staff:queue")
    messages.success(request, _("已领取工单 %(number)s") % {"number": step.ticket.number})
    return _back_to_ticket(step.ticket.number)


@require_POST
@staff_required
def step_submit(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    step = _current_step_posted(request, ticket)
    if step is None:
        return _back_to_ticket(number)
    form = StepForm(request.POST, field_specs=step.step_definition.fields)
    try:
        ticket_step_submit(step_id=step.pk, user=request.user, data=form.raw_data(), note=form.note_value())
    except TicketValidationError as exc:
        form.show_errors(exc.errors or {"__all__": [exc.message]})
        return ticket_page_render(request, ticket, step_form=form)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back_to_ticket(number)
    messages.success(request, _("已提交"))
    return _back_to_ticket(number)


@require_POST
@staff_required
def step_return(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    step = _current_step_posted(request, ticket)
    if step is None:
        return _back_to_ticket(number)
    form = ReturnForm(request.POST, targets=ticket_detail(ticket=ticket).return_targets)
    if not form.is_valid():
        return ticket_page_render(request, ticket, return_form=form)
    return _service_run(
        request, number,
        lambda: ticket_step_return(
            step_id=step.pk, user=request.user, to_step_code=form.cleaned_data["to_step_code"],
            reason=form.cleaned_data["reason"],
        ),
        done=_("已退回"),
    )


@require_POST
@staff_required
def suspend(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    form = ReasonForm(request.POST, prefix="suspend")
    if not form.is_valid():
        return ticket_page_render(request, ticket, suspend_form=form)
    return _service_run(
        request, number,
        lambda: ticket_suspend(ticket_id=ticket.pk, user=request.user, reason=form.cleaned_data["reason"]),
        done=_("工单已挂起，时限暂停计算"),
    )


@require_POST
@staff_required
def resume(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    return _service_run(
        request, number, lambda: ticket_resume(ticket_id=ticket.pk, user=request.user), done=_("工单已恢复办理")
    )


@require_POST
@staff_required
def step_skip(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    step = _current_step_posted(request, ticket)
    if step is None:
        return _back_to_ticket(number)
    form = ReasonForm(request.POST, prefix="skip")
    if not form.is_valid():
        return ticket_page_render(request, ticket, skip_form=form)
    return _service_run(
        request, number,
        lambda: ticket_step_skip(step_id=step.pk, reason=form.cleaned_data["reason"], user=request.user),
        done=_("环节已跳过，并已生成考核记录"),
    )


@require_POST
@staff_required
def step_assign(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    step = _current_step_posted(request, ticket)
    if step is None:
        return _back_to_ticket(number)
    form = AssignForm(request.POST, candidates=step_assign_candidates(step=step))
    if not form.is_valid():
        return ticket_page_render(request, ticket, assign_form=form)
    assignee = form.cleaned_data["assignee"]
    try:
        ticket_assign(step_id=step.pk, by=request.user, assignee=assignee)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back_to_ticket(number)
    if assignee is None:
        messages.success(request, _("环节已退回岗位待领池"))
    else:
        messages.success(request, _("已派给 %(name)s") % {"name": staff_name(assignee)})
    return _back_to_ticket(number)


@require_POST
@staff_required
def attachment_upload(request: HttpRequest, number: str) -> HttpResponse:
    ticket = _visible_ticket(request, number)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return ticket_page_render(request, ticket, attachment_form=form, status=400)
    try:
        attachment = ticket_attachment_add(
            ticket_id=ticket.pk, user=request.user, uploaded_file=form.cleaned_data["file"]
        )
    except TicketAttachmentRejected as exc:
        form.add_error("file", exc.message)
        return ticket_page_render(request, ticket, attachment_form=form, status=400)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back_to_ticket(number)
    messages.success(request, _("已上传附件 %(name)s") % {"name": attachment.name})
    return _back_to_ticket(number)


@require_GET
@staff_required
def attachment_download(request: HttpRequest, number: str, attachment_id: int) -> FileResponse:
    """The file itself, to whoever may see the ticket page, always as a download (never shown inline)."""
    ticket = _visible_ticket(request, number)
    attachment = get_object_or_404(TicketAttachment, pk=attachment_id, ticket=ticket)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=attachment.name, content_type=attachment.content_type)
