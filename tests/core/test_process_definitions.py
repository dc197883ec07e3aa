"""Process definitions: every seed validates, the sync is idempotent and never overwrites an edit, invalid
definitions are refused with the exact reason, and new version + activate keeps one active version per type."""
import dataclasses

import pytest

from core.models import (
    BusinessType,
    Post,
    ProcessDefinition,
    StepDefinition,
    StepPriority,
    TransitionDefinition,
)
from core.services.process_definitions import (
    ProcessDefinitionActivationRefused,
    process_definition_activate,
    process_definition_new_version,
    process_definition_spec,
    process_definition_validate,
    process_definitions_sync,
)
from core.services.roles import ROLE_NAMES
from core.workflows.checks import CHECKS
from core.workflows.definitions import SEED_DEFINITIONS

pytestmark = pytest.mark.django_db


def canonical(spec):
    """A spec with its transitions in a fixed order, for comparing a stored definition with its seed."""
    return dataclasses.replace(spec, transitions=tuple(sorted(spec.transitions, key=repr)))


def active(business_type: str) -> ProcessDefinition:
    return ProcessDefinition.objects.get(business_type=business_type, active=True)


def draft(business_type: str) -> ProcessDefinition:
    return process_definition_new_version(definition=active(business_type))


def step(definition: ProcessDefinition, code: str) -> StepDefinition:
    return definition.steps.get(code=code)


def transition(definition: ProcessDefinition, from_code: str, to_code: str | None) -> TransitionDefinition:
    return definition.transitions.get(from_step__code=from_code, to_step__code=to_code, kind="forward")


# The seeds


def test_there_is_a_seed_for_every_business_type():
    assert set(SEED_DEFINITIONS) == set(BusinessType.values)


@pytest.mark.parametrize("business_type", BusinessType.values)
def test_every_seed_validates_as_data_and_as_stored_by_migrate(business_type):
    assert process_definition_validate(SEED_DEFINITIONS[business_type]) == []
    stored = active(business_type)
    assert stored.version == 1
    assert process_definition_validate(stored) == []
    assert canonical(process_definition_spec(stored)) == canonical(SEED_DEFINITIONS[business_type])


def test_seeds_use_every_registered_check_and_only_those():
    used = {name for spec in SEED_DEFINITIONS.values() for s in spec.steps for name in s.checks}
    assert used == set(CHECKS)


def test_every_seed_step_has_a_known_post_both_languages_and_a_customer_line():
    for spec in SEED_DEFINITIONS.values():
        for s in spec.steps:
            assert s.post in ROLE_NAMES
            assert all((s.name, s.name_en, s.customer_text, s.customer_text_en)), (spec.business_type, s.code)
            assert all(f["label"] and f["label_en"] for f in s.fields), (spec.business_type, s.code)


def test_follow_up_and_archive_steps_are_low_priority_and_follow_up_asks_for_satisfaction_1_to_5():
    for spec in SEED_DEFINITIONS.values():
        for s in spec.steps:
            if s.code == "follow_up":
                assert (s.post, s.priority, s.auto_skip_when_overdue) == ("agent", StepPriority.LOW, True)
                satisfaction = next(f for f in s.fields if f["name"] == "satisfaction")
                assert satisfaction["type"] == "choice"
                assert satisfaction["required"] is True
                assert sorted(value for value, _label in satisfaction["choices"]) == ["1", "2", "3", "4", "5"]
            if s.code == "archive":
                assert (s.post, s.priority, s.auto_skip_when_overdue) == ("archivist", StepPriority.LOW, False)
            if s.auto_skip_when_overdue:
                assert s.priority == StepPriority.LOW


def test_low_voltage_residential_connection_is_five_working_days_to_power_on():
    spec = SEED_DEFINITIONS["lv_residential_connection"]
    assert [(s.code, s.post, s.limit_value) for s in spec.steps] == [
        ("accept", "counter_clerk", 1),
        ("survey", "surveyor", 2),
        ("meter_install", "meter_fitter", 2),
        ("archive", "archivist", 1),
        ("follow_up", "agent", 2),
    ]
    assert (spec.commitment_kind, spec.commitment_value) == ("working_days", 5)
    assert SEED_DEFINITIONS["lv_non_residential_connection"].commitment_value == 6
    survey = next(s for s in spec.steps if s.code == "survey")
    assert (survey.customer_text, survey.priority) == ("已安排工作人员上门勘查", StepPriority.ESSENTIAL)


def test_high_voltage_connection_branches_on_dual_supply_and_may_waive_design_review():
    stored = active("hv_connection")
    limits = {s.code: s.limit_value for s in stored.steps.all()}
    assert (limits["supply_plan"], limits["supply_plan_dual"], limits["design_review"]) == (15, 30, 10)
    assert (limits["mid_inspection"], limits["completion_acceptance"], limits["meter_install"]) == (5, 5, 5)
    survey_ways = [
        (t.to_step.code, t.condition)
        for t in stored.transitions.filter(from_step__code="survey", kind="forward").order_by("order")
    ]
    assert survey_ways == [
        ("supply_plan_dual", {"field": "supply_mode", "op": "eq", "value": "dual"}),
        ("supply_plan", {}),
    ]
    assert transition(stored, "supply_plan", "mid_inspection").condition == {
        "field": "design_review", "op": "eq", "value": "waived"
    }
    capacity = SEED_DEFINITIONS["capacity_increase"]
    assert capacity.steps[0].checks == ("capacity_above_current",)
    assert capacity.requires_account is True


def test_fault_repair_runs_on_calendar_minutes_with_area_promises():
    spec = SEED_DEFINITIONS["fault_repair"]
    steps = {s.code: s for s in spec.steps}
    assert [s.code for s in spec.steps] == ["dispatch", "arrive", "restore", "report_back", "follow_up"]
    assert {s.limit_kind for s in spec.steps} == {"calendar_minutes"}
    assert steps["dispatch"].post == "dispatcher"
    assert steps["arrive"].limit_by_area == {"city": 45, "rural": 90, "remote": 120}
    assert steps["restore"].limit_by_area == {"city": 180, "rural": 240, "remote": 240}
    assert steps["restore"].checks == ("restored_after_arrival",)


def test_commitments_of_appeals_metering_and_arrears():
    commitments = {bt: (s.commitment_kind, s.commitment_value) for bt, s in SEED_DEFINITIONS.items()}
    assert commitments["complaint"] == ("working_days", 5)
    assert commitments["meter_accuracy_check"] == ("working_days", 5)
    assert commitments["reconnection"] == ("calendar_minutes", 1440)
    assert SEED_DEFINITIONS["report"].allows_anonymous is True
    assert not any(s.allows_anonymous for bt, s in SEED_DEFINITIONS.items() if bt != "report")
    disconnection = SEED_DEFINITIONS["arrears_disconnection"].steps[0]
    assert disconnection.checks == ("account_arrears_over_30_days", "notice_at_least_7_days")
    complaint = {s.code: s for s in SEED_DEFINITIONS["complaint"].steps}
    assert complaint["handle"].checks == ("contact_within_24h",)
    assert ("review", "handle") in {
        (t.from_step, t.to_step) for t in SEED_DEFINITIONS["complaint"].transitions if t.kind == "return"
    }


# The sync


def test_sync_is_idempotent():
    counts = (ProcessDefinition.objects.count(), StepDefinition.objects.count(), TransitionDefinition.objects.count())
    assert process_definitions_sync() == []
    assert process_definitions_sync() == []
    assert (
        ProcessDefinition.objects.count(), StepDefinition.objects.count(), TransitionDefinition.objects.count()
    ) == counts
    assert ProcessDefinition.objects.filter(active=True).count() == len(BusinessType.values)


def test_sync_never_overwrites_an_edited_or_deactivated_definition():
    complaint = active("complaint")
    StepDefinition.objects.filter(definition=complaint, code="route").update(name="分派")
    praise = active("praise")
    ProcessDefinition.objects.filter(pk=praise.pk).update(active=False)
    assert process_definitions_sync() == []
    assert step(complaint, "route").name == "分派"
    assert not ProcessDefinition.objects.filter(business_type="praise", active=True).exists()


def test_sync_recreates_only_a_missing_business_type():
    ProcessDefinition.objects.filter(business_type="suggestion").delete()
    created = process_definitions_sync()
    assert [(d.business_type, d.version, d.active) for d in created] == [("suggestion", 1, True)]
    assert canonical(process_definition_spec(created[0])) == canonical(SEED_DEFINITIONS["suggestion"])


def test_sync_needs_the_posts():
    ProcessDefinition.objects.filter(business_type="fault_repair").delete()
    Post.objects.filter(code="dispatcher").delete()
    with pytest.raises(LookupError, match="dispatcher"):
        process_definitions_sync()


# Validation of stored definitions


def test_an_unreachable_step_is_refused():
    definition = draft("lv_residential_connection")
    TransitionDefinition.objects.filter(pk=transition(definition, "survey", "meter_install").pk).update(
        to_step=step(definition, "archive")
    )
    assert process_definition_validate(definition) == ["环节“装表接电”从第一个环节无法到达"]


def test_a_step_without_a_post_is_refused():
    definition = draft("lv_residential_connection")
    StepDefinition.objects.filter(pk=step(definition, "survey").pk).update(post=None)
    assert process_definition_validate(definition) == ["环节“勘查及确定供电方案”没有指定岗位"]


def test_a_return_to_a_later_step_is_refused():
    definition = draft("lv_residential_connection")
    TransitionDefinition.objects.create(
        definition=definition, from_step=step(definition, "accept"), to_step=step(definition, "survey"),
        kind="return",
    )
    assert process_definition_validate(definition) == [
        "环节“受理”只能退回到之前的环节，不能退回到“勘查及确定供电方案”"
    ]


def test_a_forward_transition_to_an_earlier_step_is_refused():
    definition = draft("lv_residential_connection")
    TransitionDefinition.objects.filter(pk=transition(definition, "meter_install", "archive").pk).update(
        to_step=step(definition, "accept")
    )
    errors = process_definition_validate(definition)
    assert errors[0] == "环节“装表接电”只能前进到之后的环节，不能前进到“受理”"
    assert "环节“信息归档”从第一个环节无法到达" in errors


def test_an_unknown_check_is_refused():
    definition = draft("name_change")
    StepDefinition.objects.filter(pk=step(definition, "accept").pk).update(checks=["new_name_differs", "no_such"])
    assert process_definition_validate(definition) == ["环节“受理”引用了不存在的校验规则“no_such”"]


@pytest.mark.parametrize(
    ("condition", "error"),
    [
        ({"field": "supply_mode", "op": "like", "value": "dual"}, "环节“现场勘查”的流转条件运算符“like”不受支持"),
        ({"field": "voltage", "op": "eq", "value": "dual"}, "环节“现场勘查”的流转条件引用了未定义的填写项“voltage”"),
        ({"op": "eq", "value": "dual"}, "环节“现场勘查”的流转条件缺少填写项"),
        ({"field": "supply_mode", "op": "in", "value": "dual"}, "环节“现场勘查”的流转条件“in”的取值须为列表"),
        ({"field": "supply_mode", "op": "eq"}, "环节“现场勘查”的流转条件缺少取值"),
        ({"field": "supply_mode", "op": "eq", "value": "triple"},
         "环节“现场勘查”的流转条件取值“triple”不在填写项“supply_mode”的选项中"),
        ({"field": "surveyed_on", "op": "gt", "value": "soon"}, "环节“现场勘查”的流转条件“gt”的取值须为数字"),
        ({"field": "supply_mode", "op": "eq", "value": "dual", "when": "now"}, "环节“现场勘查”的流转条件格式不正确"),
        (["supply_mode", "dual"], "环节“现场勘查”的流转条件格式不正确"),
    ],
)
def test_a_bad_condition_is_refused(condition, error):
    definition = draft("hv_connection")
    TransitionDefinition.objects.filter(pk=transition(definition, "survey", "supply_plan_dual").pk).update(
        condition=condition
    )
    assert process_definition_validate(definition) == [error]


def test_a_step_whose_every_way_out_has_a_condition_is_refused():
    definition = draft("hv_connection")
    TransitionDefinition.objects.filter(pk=transition(definition, "survey", "supply_plan").pk).update(
        condition={"field": "supply_mode", "op": "eq", "value": "single"}
    )
    assert process_definition_validate(definition) == [
        "环节“现场勘查”的前进流转都带条件，须有一条无条件流转兜底"
    ]


def test_a_step_without_a_way_forward_is_refused():
    definition = draft("praise")
    TransitionDefinition.objects.filter(pk=transition(definition, "thank", None).pk).delete()
    assert process_definition_validate(definition) == ["环节“致谢客户”没有前进流转", "流程没有通向结束的路径"]


def test_a_transition_into_another_definition_is_refused():
    definition = draft("praise")
    other = step(active("complaint"), "route")
    moved = transition(definition, "convey", "thank")
    TransitionDefinition.objects.filter(pk=moved.pk).update(to_step=other)
    errors = process_definition_validate(definition)
    assert errors[0] == "流转“转达表扬 → 派发责任单位”指向其他流程的环节"


# Validation of plain data: fields, priorities, limits


def seed_with_step(business_type: str, code: str, **changes):
    spec = SEED_DEFINITIONS[business_type]
    steps = tuple(dataclasses.replace(s, **changes) if s.code == code else s for s in spec.steps)
    return dataclasses.replace(spec, steps=steps)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"post": "plumber"}, "环节“受理”的岗位“plumber”不存在"),
        ({"limit_value": 0}, "环节“受理”的时限须大于零"),
        ({"limit_by_area": {"suburb": 30}}, "环节“受理”的按区域时限格式不正确（城市、农村、边远地区各一个正整数）"),
        ({"auto_skip_when_overdue": True}, "环节“受理”不是低优先级，不能超时自动跳过"),
        ({"fields": ({"name": "note", "label": "备注", "type": "memo"},)}, "环节“受理”的填写项“note”类型“memo”不受支持"),
        ({"fields": ({"name": "kind", "label": "类别", "type": "choice"},)},
         "环节“受理”的选择项“kind”须列出选项（[值, 标签]）"),
        ({"fields": ({"name": "n", "label": "数", "type": "integer", "min": 5, "max": 1},)},
         "环节“受理”的填写项“n”的上下限有误"),
        ({"fields": ({"name": "n", "label": "", "type": "text"},)}, "环节“受理”的填写项“n”缺少中文标签"),
        ({"fields": ({"name": "n", "label": "数", "type": "text", "widget": "big"},)},
         "环节“受理”的填写项“n”有未知属性“widget”"),
        ({"fields": ({"label": "数", "type": "text"},)}, "环节“受理”的第1个填写项缺少有效的名称"),
        ({"fields": ({"name": "n", "label": "数", "type": "text"}, {"name": "n", "label": "数", "type": "text"})},
         "环节“受理”的填写项“n”重复"),
    ],
)
def test_bad_step_data_is_refused(changes, error):
    assert process_definition_validate(seed_with_step("name_change", "accept", **changes)) == [error]


def test_a_commitment_needs_both_kind_and_value():
    spec = dataclasses.replace(SEED_DEFINITIONS["praise"], commitment_value=None)
    assert process_definition_validate(spec) == ["承诺时限类型和承诺时限须同时填写或同时留空"]


def test_a_definition_without_steps_is_refused():
    spec = dataclasses.replace(SEED_DEFINITIONS["praise"], steps=(), transitions=())
    assert process_definition_validate(spec) == ["流程没有环节"]


# New versions and activation


def test_new_version_is_an_inactive_copy_and_activation_keeps_one_active_version():
    first = active("complaint")
    second = process_definition_new_version(definition=first)
    assert (second.version, second.active) == (2, False)
    assert process_definition_spec(second) == process_definition_spec(first)
    assert set(second.steps.values_list("pk", flat=True)).isdisjoint(first.steps.values_list("pk", flat=True))
    process_definition_activate(definition=second)
    assert list(
        ProcessDefinition.objects.filter(business_type="complaint").order_by("version").values_list("version", "active")
    ) == [(1, False), (2, True)]
    third = process_definition_new_version(definition=first)
    assert third.version == 3
    process_definition_activate(definition=first)
    assert active("complaint") == first
    assert ProcessDefinition.objects.filter(business_type="complaint", active=True).count() == 1
    assert active("praise").version == 1


def test_activating_an_invalid_definition_is_refused_and_changes_nothing():
    definition = draft("lv_residential_connection")
    StepDefinition.objects.filter(pk=step(definition, "survey").pk).update(post=None)
    with pytest.raises(ProcessDefinitionActivationRefused) as refused:
        process_definition_activate(definition=definition)
    assert refused.value.code == "process_definition_activation_refused"
    assert refused.value.errors == ["环节“勘查及确定供电方案”没有指定岗位"]
    assert str(refused.value) == "流程定义有误，不能启用：环节“勘查及确定供电方案”没有指定岗位"
    assert active("lv_residential_connection").version == 1
    definition.refresh_from_db()
    assert definition.active is False


def test_activating_the_active_version_changes_nothing():
    definition = active("transfer")
    assert process_definition_activate(definition=definition) == definition
    assert active("transfer") == definition
