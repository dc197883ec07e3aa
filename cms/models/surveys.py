"""Market surveys and opinion collection (市场调查, 意见征集) built with Wagtail's form builder."""
from django.conf import settings
from django.db import models
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.forms.models import AbstractForm, AbstractFormField, AbstractFormSubmission
from wagtail.fields import RichTextField
from wagtail.search import index


class SurveyKind(models.TextChoices):
    MARKET_SURVEY = "market_survey", _("市场调查")
    OPINION = "opinion", _("意见征集")


class SurveyPage(AbstractForm):
    """A questionnaire editors build in the admin; answers are kept as SurveySubmission rows."""

    kind = models.CharField(_("类型"), max_length=16, choices=SurveyKind.choices, default=SurveyKind.MARKET_SURVEY)
    intro = RichTextField(_("说明"), blank=True, features=["bold", "italic", "link", "ol", "ul"])
    thank_you_text = RichTextField(_("提交后显示"), blank=True, features=["bold", "italic", "link"])
    opens_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    closes_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    login_required = models.BooleanField(_("须登录后填写"), default=False)
    one_response_per_customer = models.BooleanField(
        _("每位客户限填一次"), default=False, help_text=_("勾选后须登录才能填写，同一账号只能提交一次")
    )

    content_panels = AbstractForm.content_panels + [
        FieldPanel("kind"),
        FieldPanel("intro"),
        InlinePanel("form_fields", label=_("问题")),
        FieldPanel("thank_you_text"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("opens_at"), FieldPanel("closes_at")]),
                FieldPanel("login_required"),
                FieldPanel("one_response_per_customer"),
            ],
            heading=_("填写规则"),
        ),
    ]

    search_fields = AbstractForm.search_fields + [index.SearchField("intro")]

    parent_page_types = ["cms.HomePage", "cms.SectionPage"]
    subpage_types = []

    # Every form carries a CSRF token and the answer state depends on who asks: never serve a cached copy.
    page_cache_enabled = False

    class Meta:
        verbose_name = _("问卷调查")
        verbose_name_plural = _("问卷调查")

    @property
    def requires_login(self) -> bool:
        return self.login_required or self.one_response_per_customer

    def get_submission_class(self):
        return SurveySubmission

    def get_submissions(self):
        return super().get_submissions().select_related("user")

    def get_data_fields(self):
        return [*super().get_data_fields()[:1], ("respondent", _("填写人")), *super().get_data_fields()[1:]]

    def process_form_submission(self, form):
        from cms.surveys import survey_submission_create

        return survey_submission_create(page=self, form_data=form.cleaned_data, user=form.user)

    def serve(self, request, *args, **kwargs):
        from cms.surveys import SurveyLoginRequired, SurveyRefused, survey_check

        try:
            survey_check(page=self, user=request.user, now=timezone.now())
        except SurveyLoginRequired:
            return redirect_to_login(request.get_full_path())
        except SurveyRefused as refused:
            return self._render_refusal(request, refused)
        if request.method == "POST":
            form = self.get_form(request.POST, request.FILES, page=self, user=request.user)
            if form.is_valid():
                try:
                    submission = self.process_form_submission(form)
                except SurveyRefused as refused:
                    return self._render_refusal(request, refused)
                return self.render_landing_page(request, submission, *args, **kwargs)
        else:
            form = self.get_form(page=self, user=request.user)
        context = self.get_context(request)
        context["form"] = form
        return TemplateResponse(request, self.get_template(request), context)

    def _render_refusal(self, request, refused):
        context = self.get_context(request)
        context["refusal"] = refused
        return TemplateResponse(request, self.get_template(request), context)


class SurveyField(AbstractFormField):
    page = ParentalKey(SurveyPage, on_delete=models.CASCADE, related_name="form_fields")

    class Meta(AbstractFormField.Meta):
        verbose_name = _("问题")
        verbose_name_plural = _("问题")


class SurveySubmission(AbstractFormSubmission):
    """One set of answers; `respondent_key` ("user:<id>") makes a second answer from one customer impossible."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("填写人"),
    )
    respondent_key = models.CharField(_("限填标识"), max_length=64, null=True, blank=True)

    class Meta:
        verbose_name = _("问卷答卷")
        verbose_name_plural = _("问卷答卷")
        constraints = [
            models.UniqueConstraint(
                fields=["page", "respondent_key"],
                condition=Q(respondent_key__isnull=False),
                name="cms_survey_one_response_per_respondent",
            ),
        ]

    def get_data(self):
        """The answers plus who gave them (the editors' results table and CSV export read this)."""
        return {**super().get_data(), "respondent": self.user.get_username() if self.user_id else ""}
