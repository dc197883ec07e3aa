"""Taking answers to a survey (问卷): the open window, who may answer and one response per customer.

The one-response rule is the database's: SurveySubmission's unique (page, respondent_key) constraint. Two
submissions racing from one customer both pass every check, one insert wins and the other's IntegrityError
becomes SurveyAlreadyAnswered, so the first answers are kept and nothing is counted twice.
"""
from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cms.models import SurveyPage, SurveySubmission
from core.errors import DomainError


class SurveyRefused(DomainError):
    code = "survey_refused"


class SurveyNotOpen(SurveyRefused):
    code = "survey_not_open"


class SurveyClosed(SurveyRefused):
    code = "survey_closed"


class SurveyLoginRequired(SurveyRefused):
    code = "survey_login_required"


class SurveyAlreadyAnswered(SurveyRefused):
    code = "survey_already_answered"


def survey_respondent_key(*, page: SurveyPage, user) -> str | None:
    """The key the unique constraint holds one answer per: "user:<id>" where the survey allows one response per
    customer, None (no limit) otherwise."""
    if page.one_response_per_customer and user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def survey_check(*, page: SurveyPage, user, now: datetime) -> None:
    """Raise why `user` may not answer `page` now (not open yet, closed, must sign in, already answered)."""
    if page.opens_at is not None and now < page.opens_at:
        raise SurveyNotOpen(_("本问卷尚未开始，请在开始时间后再来填写。"))
    if page.closes_at is not None and now >= page.closes_at:
        raise SurveyClosed(_("本问卷已截止，感谢您的关注。"))
    if page.requires_login and not (user is not None and user.is_authenticated):
        raise SurveyLoginRequired(_("请登录后填写本问卷。"))
    key = survey_respondent_key(page=page, user=user)
    if key is not None and SurveySubmission.objects.filter(page=page, respondent_key=key).exists():
        raise SurveyAlreadyAnswered(_("您已提交过本问卷，每位客户只能填写一次。"))


def survey_submission_create(
    *, page: SurveyPage, form_data: dict, user, now: datetime | None = None
) -> SurveySubmission:
    """Store one set of answers (one insert, its own transaction) after survey_check; a concurrent second answer
    from the same customer is refused by the unique constraint as SurveyAlreadyAnswered."""
    survey_check(page=page, user=user, now=now or timezone.now())
    signed_in = user is not None and user.is_authenticated
    try:
        with transaction.atomic():
            return SurveySubmission.objects.create(
                page=page,
                form_data=form_data,
                user=user if signed_in else None,
                respondent_key=survey_respondent_key(page=page, user=user),
            )
    except IntegrityError:
        raise SurveyAlreadyAnswered(_("您已提交过本问卷，每位客户只能填写一次。")) from None
