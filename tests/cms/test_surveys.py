"""Surveys (问卷) on Wagtail's form builder: open window, sign-in rules, one response per customer (race-safe by
the unique constraint), bad input stores nothing, and editors export the answers as CSV."""
import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

from cms.models import HomePage, SectionPage, SurveyField, SurveyKind, SurveyPage, SurveySubmission
from cms.services import cms_site_ensure
from cms.surveys import SurveyAlreadyAnswered, SurveyClosed, SurveyNotOpen, survey_submission_create

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")

QUESTIONS = [
    # label, field type, required, choices
    ("姓名", "singleline", True, ""),
    ("电子邮箱", "email", True, ""),
    ("每月用电量", "number", False, ""),
    ("满意度", "radio", True, "满意\n一般\n不满意"),
    ("意见建议", "multiline", False, ""),
]


def add_survey(home, *, slug, **options):
    survey = home.add_child(instance=SurveyPage(
        title=options.pop("title", "供电服务满意度调查"), slug=slug, intro="<p>请花一分钟告诉我们您的感受。</p>",
        thank_you_text="<p>我们会认真阅读每一条意见。</p>", **options,
    ))
    for order, (label, field_type, required, choices) in enumerate(QUESTIONS):
        SurveyField.objects.create(page=survey, sort_order=order, label=label, field_type=field_type,
                                   required=required, choices=choices)
    survey.save_revision().publish()
    return survey


def names(survey):
    return {f.label: f.clean_name for f in survey.form_fields.all()}


def answers(survey, **overrides):
    n = names(survey)
    data = {n["姓名"]: "张三", n["电子邮箱"]: "zhangsan@example.com", n["每月用电量"]: "230",
            n["满意度"]: "满意", n["意见建议"]: "抄表员很耐心"}
    data.update({n[label]: value for label, value in overrides.items()})
    return data


@pytest.fixture
def home():
    return cms_site_ensure()


@pytest.fixture
def customer(db):
    return get_user_model().objects.create_user(username="customer1", password="pw")


def test_anonymous_answers_an_open_survey(client, home):
    survey = add_survey(home, slug="market", kind=SurveyKind.MARKET_SURVEY)
    page = client.get("/market/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<h1>供电服务满意度调查</h1>" in body and "市场调查" in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert "每位客户限填一次" not in body
    response = client.post("/market/", answers(survey))
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "cms/survey_page_landing.html"
    assert "提交成功，感谢您的参与！" in response.content.decode()
    assert "我们会认真阅读每一条意见。" in response.content.decode()
    submission = SurveySubmission.objects.get()
    assert (submission.page_id, submission.user, submission.respondent_key) == (survey.pk, None, None)
    assert submission.form_data == answers(survey)
    # Anonymous answers are not limited: a second one is stored too.
    client.post("/market/", answers(survey, 姓名="李四"))
    assert SurveySubmission.objects.count() == 2


@pytest.mark.parametrize("overrides, field, error", [
    ({"姓名": ""}, "姓名", "必需字段"),
    ({"电子邮箱": "not-an-email"}, "电子邮箱", "输入一个有效的 Email 地址。"),
    ({"每月用电量": "两百"}, "每月用电量", "输入一个数字。"),
    ({"满意度": "非常满意"}, "满意度", "选择一个有效的选项。 非常满意 不在可用的选项中。"),
])
def test_bad_input_re_renders_with_the_error_and_stores_nothing(client, home, overrides, field, error):
    survey = add_survey(home, slug="market")
    response = client.post("/market/", answers(survey, **overrides))
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "cms/survey_page.html"
    assert response.context["form"].errors[names(survey)[field]] == [error]
    body = response.content.decode()
    assert f'<p class="field-error" role="alert">{error}</p>' in body
    assert 'value="张三"' in body or field == "姓名"  # what the visitor typed is kept
    assert SurveySubmission.objects.count() == 0


def test_one_response_per_customer_needs_sign_in(client, home):
    add_survey(home, slug="opinion", kind=SurveyKind.OPINION, one_response_per_customer=True)
    response = client.get("/opinion/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/opinion/"
    assert client.post("/opinion/", {})["Location"] == "/accounts/login/?next=/opinion/"
    assert SurveySubmission.objects.count() == 0


def test_login_required_survey_records_who_answered(client, home, customer):
    survey = add_survey(home, slug="members", login_required=True)
    assert client.get("/members/")["Location"] == "/accounts/login/?next=/members/"
    client.force_login(customer)
    client.post("/members/", answers(survey))
    client.post("/members/", answers(survey, 满意度="一般"))
    # Sign-in alone does not limit answers; only one_response_per_customer does.
    assert list(SurveySubmission.objects.values_list("user__username", "respondent_key")) == [
        ("customer1", None), ("customer1", None)]


def test_second_answer_from_a_customer_is_refused_and_the_first_kept(client, home, customer):
    survey = add_survey(home, slug="opinion", kind=SurveyKind.OPINION, one_response_per_customer=True)
    client.force_login(customer)
    assert "每位客户限填一次，提交后不能修改。" in client.get("/opinion/").content.decode()
    assert client.post("/opinion/", answers(survey)).status_code == 200
    again = client.post("/opinion/", answers(survey, 满意度="不满意"))
    assert again.status_code == 200
    body = again.content.decode()
    assert "您已提交过本问卷，每位客户只能填写一次。" in body
    assert "<form" not in body.split('class="survey"')[1]
    page = client.get("/opinion/").content.decode()
    assert "您已提交过本问卷，每位客户只能填写一次。" in page
    submission = SurveySubmission.objects.get()
    assert (submission.user, submission.respondent_key) == (customer, f"user:{customer.pk}")
    assert submission.form_data[names(survey)["满意度"]] == "满意"
    # Another customer may still answer.
    other = get_user_model().objects.create_user(username="customer2", password="pw")
    client.force_login(other)
    client.post("/opinion/", answers(survey, 姓名="王五"))
    assert SurveySubmission.objects.count() == 2


def test_a_racing_duplicate_is_stopped_by_the_constraint(home, customer, monkeypatch):
    """Both requests passed the check before either inserted: the unique constraint refuses the second."""
    survey = add_survey(home, slug="opinion", one_response_per_customer=True)
    import cms.surveys

    monkeypatch.setattr(cms.surveys, "survey_check", lambda **kwargs: None)
    first = survey_submission_create(page=survey, form_data={"q": "first"}, user=customer)
    with pytest.raises(SurveyAlreadyAnswered) as refused:
        survey_submission_create(page=survey, form_data={"q": "second"}, user=customer)
    assert str(refused.value) == "您已提交过本问卷，每位客户只能填写一次。"
    assert list(SurveySubmission.objects.values_list("pk", "form_data")) == [(first.pk, {"q": "first"})]


def test_survey_window(client, home, monkeypatch):
    now = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)
    survey = add_survey(home, slug="market", opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=8))
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    early = client.get("/market/").content.decode()
    assert "本问卷尚未开始，请在开始时间后再来填写。" in early
    assert "开始时间：<time datetime=\"2026-06-02T09:00:00+08:00\">2026-06-02 09:00</time>" in early
    assert "<form" not in early.split('class="survey"')[1]
    assert "本问卷尚未开始" in client.post("/market/", answers(survey)).content.decode()
    with pytest.raises(SurveyNotOpen):
        survey_submission_create(page=survey, form_data={}, user=None, now=now)

    monkeypatch.setattr("django.utils.timezone.now", lambda: now + timedelta(days=2))
    assert client.post("/market/", answers(survey)).templates[0].name == "cms/survey_page_landing.html"

    monkeypatch.setattr("django.utils.timezone.now", lambda: now + timedelta(days=8))
    late = client.post("/market/", answers(survey, 姓名="迟到的人"))
    assert "本问卷已截止，感谢您的关注。" in late.content.decode()
    with pytest.raises(SurveyClosed):
        survey_submission_create(page=survey, form_data={}, user=None, now=now + timedelta(days=8))
    assert [s.form_data[names(survey)["姓名"]] for s in SurveySubmission.objects.all()] == ["张三"]


def test_survey_pages_are_never_cached(client, home):
    add_survey(home, slug="market")
    first = client.get("/market/")
    second = client.get("/market/")
    assert "X-Page-Cache" not in first and "X-Page-Cache" not in second
    assert SurveyPage.page_cache_enabled is False


def test_editors_export_the_answers_as_csv(client, home, customer):
    survey = add_survey(home, slug="opinion", one_response_per_customer=True)
    client.force_login(customer)
    client.post("/opinion/", answers(survey, 意见建议="希望增加夜间营业厅"))
    editor = get_user_model().objects.create_superuser(username="editor", password="pw")
    client.force_login(editor)
    listing = client.get(f"/admin/forms/submissions/{survey.pk}/")
    assert listing.status_code == 200
    assert "希望增加夜间营业厅" in listing.content.decode()
    export = client.get(f"/admin/forms/submissions/{survey.pk}/", {"export": "csv"})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["提交日期", "填写人", "姓名", "电子邮箱", "每月用电量", "满意度", "意见建议"]
    assert rows[1][1:] == ["customer1", "张三", "zhangsan@example.com", "230", "满意", "希望增加夜间营业厅"]
    assert len(rows) == 2


class SurveyPageTreeTests(WagtailPageTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.home = cms_site_ensure()

    def setUp(self):
        self.login()

    def test_tree_rules(self):
        self.assertAllowedParentPageTypes(SurveyPage, {HomePage, SectionPage})
        self.assertAllowedSubpageTypes(SurveyPage, set())

    def test_editor_builds_a_survey_with_questions(self):
        self.assertCanCreate(self.home, SurveyPage, nested_form_data({
            "title": "意见征集", "slug": "opinion", "kind": SurveyKind.OPINION,
            "intro": rich_text("<p>欢迎提出意见。</p>"), "thank_you_text": rich_text("<p>谢谢。</p>"),
            "one_response_per_customer": True,
            "form_fields": inline_formset([
                {"label": "您的意见", "field_type": "multiline", "required": True, "choices": "",
                 "default_value": "", "help_text": ""},
            ]),
        }))
        survey = SurveyPage.objects.get(slug="opinion")
        assert [(f.label, f.field_type, f.required) for f in survey.form_fields.all()] == [("您的意见", "multiline", True)]
