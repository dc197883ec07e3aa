"""Process definitions as versioned data: validation, the seed sync, new versions and activation.

A running ticket keeps the version it started with, so a definition is changed by copying it as a new version,
editing the copy and activating it; activation validates first and leaves exactly one active version per
business type.
"""
from __future__ import annotations

import importlib.util
import re
from collections import deque
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from core.errors import ProcessDefinitionInvalid
from core.models import (
    Branch,
    BusinessType,
    LimitKind,
    Post,
    ProcessDefinition,
    StepDefinition,
    StepPriority,
    TransitionDefinition,
)
from core.services.roles import ROLE_NAMES
from core.workflows import CONDITION_OPS
from core.workflows.definitions import SEED_DEFINITIONS, ProcessSpec, StepSpec, TransitionSpec
from core.workflows.fields import FIELD_TYPES

FIELD_KEYS = {"name", "label", "label_en", "type", "required", "choices", "min", "max", "max_length"}
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
NUMERIC_OPS = ("gt", "gte", "lt", "lte")
FORWARD = TransitionDefinition.Kind.FORWARD
RETURN = TransitionDefinition.Kind.RETURN


class ProcessDefinitionActivationRefused(ProcessDefinitionInvalid):
    """Activation of a definition that does not validate; `errors` lists what is wrong."""

    code = "process_definition_activation_refused"

    def __init__(self, errors: list[str]):
        super().__init__(_("流程定义有误，不能启用：%(errors)s") % {"errors": "；".join(errors)})
        self.errors = list(errors)


# Reading a stored definition as plain data


def process_definition_spec(definition: ProcessDefinition) -> ProcessSpec:
    """A stored definition as the same plain data the seeds are written in (post codes, step codes)."""
    steps = definition.steps.select_related("post").order_by("order")
    transitions = definition.transitions.select_related("from_step", "to_step").order_by(
        "from_step__order", "order", "id"
    )
    return ProcessSpec(
        business_type=definition.business_type,
        name=definition.name,
        commitment_kind=definition.commitment_kind,
        commitment_value=definition.commitment_value,
        allows_anonymous=definition.allows_anonymous,
        requires_account=definition.requires_account,
        steps=tuple(
            StepSpec(
                code=step.code, name=step.name, name_en=step.name_en,
                post=step.post.code if step.post_id else None,
                customer_text=step.customer_text, customer_text_en=step.customer_text_en,
                limit_value=step.limit_value, limit_kind=step.limit_kind, limit_by_area=step.limit_by_area,
                priority=step.priority, auto_skip_when_overdue=step.auto_skip_when_overdue,
                fields=tuple(step.fields) if isinstance(step.fields, list) else step.fields,
                checks=tuple(step.checks) if isinstance(step.checks, list) else step.checks,
                order=step.order,
            )
            for step in steps
        ),
        transitions=tuple(
            TransitionSpec(
                from_step=t.from_step.code, to_step=t.to_step.code if t.to_step_id else None,
                kind=t.kind, condition=t.condition, order=t.order, label=t.label,
            )
            for t in transitions
        ),
    )


def _foreign_transition_errors(definition: ProcessDefinition) -> list[str]:
    """Transitions whose steps belong to another definition (possible only when rows are edited by hand)."""
    errors = []
    for transition in definition.transitions.select_related("from_step", "to_step"):
        for step in (transition.from_step, transition.to_step):
            if step is not None and step.definition_id != definition.pk:
                errors.append(_("流转“%(transition)s”指向其他流程的环节") % {"transition": transition})
                break
    return errors


# Validation


def _known_checks() -> set[str] | None:
    """The registered check names, or None while core.workflows.checks does not exist."""
    if importlib.util.find_spec("core.workflows.checks") is None:
        return None
    from core.workflows.checks import CHECKS

    return set(CHECKS)


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | Decimal):
        return True
    if isinstance(value, str):
        try:
            return Decimal(value).is_finite()
        except InvalidOperation:
            return False
    return False


def _field_errors(step: StepSpec) -> list[str]:
    label = {"step": step.name}
    if not isinstance(step.fields, list | tuple):
        return [_("环节“%(step)s”的填写项须为列表") % label]
    errors = []
    seen: set[str] = set()
    for index, spec in enumerate(step.fields, start=1):
        if not isinstance(spec, dict):
            errors.append(_("环节“%(step)s”的第%(index)s个填写项格式不正确") % {**label, "index": index})
            continue
        name = spec.get("name")
        if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
            errors.append(_("环节“%(step)s”的第%(index)s个填写项缺少有效的名称") % {**label, "index": index})
            continue
        about = {**label, "field": name}
        if name in seen:
            errors.append(_("环节“%(step)s”的填写项“%(field)s”重复") % about)
        seen.add(name)
        for key in sorted(set(spec) - FIELD_KEYS):
            errors.append(_("环节“%(step)s”的填写项“%(field)s”有未知属性“%(key)s”") % {**about, "key": key})
        if not isinstance(spec.get("label"), str) or not spec["label"].strip():
            errors.append(_("环节“%(step)s”的填写项“%(field)s”缺少中文标签") % about)
        kind = spec.get("type")
        if kind not in FIELD_TYPES:
            errors.append(_("环节“%(step)s”的填写项“%(field)s”类型“%(type)s”不受支持") % {**about, "type": kind})
            continue
        if "required" in spec and not isinstance(spec["required"], bool):
            errors.append(_("环节“%(step)s”的填写项“%(field)s”的“必填”须为是或否") % about)
        if kind == "choice":
            choices = spec.get("choices")
            if not (
                isinstance(choices, list)
                and choices
                and all(isinstance(pair, list | tuple) and len(pair) == 2 for pair in choices)
            ):
                errors.append(_("环节“%(step)s”的选择项“%(field)s”须列出选项（[值, 标签]）") % about)
        elif "choices" in spec:
            errors.append(_("环节“%(step)s”的填写项“%(field)s”不是选择项，不能列出选项") % about)
        bounds = [spec[key] for key in ("min", "max") if key in spec]
        if bounds and (
            kind not in ("integer", "decimal")
            or not all(_is_number(bound) for bound in bounds)
            or (len(bounds) == 2 and Decimal(str(bounds[0])) > Decimal(str(bounds[1])))
        ):
            errors.append(_("环节“%(step)s”的填写项“%(field)s”的上下限有误") % about)
        if "max_length" in spec and (
            kind not in ("text", "textarea", "phone")
            or isinstance(spec["max_length"], bool)
            or not isinstance(spec["max_length"], int)
            or spec["max_length"] < 1
        ):
            errors.append(_("环节“%(step)s”的填写项“%(field)s”的最大长度有误") % about)
    return errors


def _step_errors(step: StepSpec, *, check_posts: bool, known_checks: set[str] | None) -> list[str]:
    label = {"step": step.name}
    errors = []
    if not step.post:
        errors.append(_("环节“%(step)s”没有指定岗位") % label)
    elif check_posts and step.post not in ROLE_NAMES:
        errors.append(_("环节“%(step)s”的岗位“%(post)s”不存在") % {**label, "post": step.post})
    if step.limit_kind not in LimitKind.values:
        errors.append(_("环节“%(step)s”的时限类型“%(kind)s”不受支持") % {**label, "kind": step.limit_kind})
    if isinstance(step.limit_value, bool) or not isinstance(step.limit_value, int) or step.limit_value < 1:
        errors.append(_("环节“%(step)s”的时限须大于零") % label)
    by_area = step.limit_by_area
    if not isinstance(by_area, dict) or any(
        key not in Branch.AreaKind.values or isinstance(value, bool) or not isinstance(value, int) or value < 1
        for key, value in by_area.items()
    ):
        errors.append(_("环节“%(step)s”的按区域时限格式不正确（城市、农村、边远地区各一个正整数）") % label)
    if step.priority not in StepPriority.values:
        errors.append(_("环节“%(step)s”的优先级不受支持") % label)
    elif step.auto_skip_when_overdue and step.priority != StepPriority.LOW:
        errors.append(_("环节“%(step)s”不是低优先级，不能超时自动跳过") % label)
    errors += _field_errors(step)
    if not isinstance(step.checks, list | tuple) or not all(isinstance(name, str) for name in step.checks):
        errors.append(_("环节“%(step)s”的校验规则须为列表") % label)
    elif known_checks is not None:
        for name in step.checks:
            if name not in known_checks:
                errors.append(_("环节“%(step)s”引用了不存在的校验规则“%(check)s”") % {**label, "check": name})
    return errors


def _condition_errors(condition, *, step: StepSpec, declared: dict[str, dict]) -> list[str]:
    """A condition is {} or {"field", "op", "value"} over a field declared at or before the step."""
    label = {"step": step.name}
    if condition == {}:
        return []
    if not isinstance(condition, dict) or set(condition) - {"field", "op", "value"}:
        return [_("环节“%(step)s”的流转条件格式不正确") % label]
    field_name, op = condition.get("field"), condition.get("op", "eq")
    if not isinstance(field_name, str) or not field_name:
        return [_("环节“%(step)s”的流转条件缺少填写项") % label]
    if op not in CONDITION_OPS:
        return [_("环节“%(step)s”的流转条件运算符“%(op)s”不受支持") % {**label, "op": op}]
    about = {**label, "field": field_name}
    if field_name not in declared:
        return [_("环节“%(step)s”的流转条件引用了未定义的填写项“%(field)s”") % about]
    if op == "truthy":
        if "value" in condition and not isinstance(condition["value"], bool):
            return [_("环节“%(step)s”的流转条件“truthy”的取值须为是或否") % label]
        return []
    if "value" not in condition:
        return [_("环节“%(step)s”的流转条件缺少取值") % label]
    value = condition["value"]
    if op == "in" and not isinstance(value, list):
        return [_("环节“%(step)s”的流转条件“in”的取值须为列表") % label]
    if op in NUMERIC_OPS and not _is_number(value):
        return [_("环节“%(step)s”的流转条件“%(op)s”的取值须为数字") % {**label, "op": op}]
    spec = declared[field_name]
    if spec.get("type") == "choice" and op in ("eq", "ne", "in"):
        allowed = {str(pair[0]) for pair in spec.get("choices") or [] if isinstance(pair, list | tuple) and pair}
        for option in value if op == "in" else [value]:
            if str(option) not in allowed:
                return [
                    _("环节“%(step)s”的流转条件取值“%(value)s”不在填写项“%(field)s”的选项中")
                    % {**about, "value": option}
                ]
    return []


def _transition_errors(spec: ProcessSpec, by_code: dict[str, StepSpec]) -> list[str]:
    errors = []
    declared: dict[str, dict] = {}
    declared_up_to: dict[str, dict[str, dict]] = {}
    for step in sorted(spec.steps, key=lambda s: s.order):
        if isinstance(step.fields, list | tuple):
            declared.update(
                {f["name"]: f for f in step.fields if isinstance(f, dict) and isinstance(f.get("name"), str)}
            )
        declared_up_to[step.code] = dict(declared)
    for transition in spec.transitions:
        source = by_code.get(transition.from_step)
        target = by_code.get(transition.to_step) if transition.to_step is not None else None
        for code in (transition.from_step, transition.to_step):
            if code is not None and code not in by_code:
                errors.append(_("流转引用了不存在的环节“%(code)s”") % {"code": code})
        if source is None or (transition.to_step is not None and target is None):
            continue
        names = {"step": source.name, "target": target.name if target else ""}
        if transition.kind == RETURN:
            if target is None:
                errors.append(_("环节“%(step)s”的退回流转须指定目标环节") % names)
            elif target.order >= source.order:
                errors.append(_("环节“%(step)s”只能退回到之前的环节，不能退回到“%(target)s”") % names)
            if transition.condition:
                errors.append(_("环节“%(step)s”的退回流转不能带条件") % names)
        elif transition.kind == FORWARD:
            if target is not None and target.order <= source.order:
                errors.append(_("环节“%(step)s”只能前进到之后的环节，不能前进到“%(target)s”") % names)
            errors += _condition_errors(transition.condition, step=source, declared=declared_up_to[source.code])
        else:
            errors.append(_("环节“%(step)s”的流转类型“%(kind)s”不受支持") % {**names, "kind": transition.kind})
    return errors


def _graph_errors(spec: ProcessSpec, by_code: dict[str, StepSpec]) -> list[str]:
    """Every step reachable from the first, a forward way out of every step, a path to the end."""
    errors = []
    outgoing: dict[str, list[TransitionSpec]] = {code: [] for code in by_code}
    for transition in sorted(spec.transitions, key=lambda t: t.order):
        if (
            transition.kind == FORWARD
            and transition.from_step in by_code
            and (transition.to_step is None or transition.to_step in by_code)
        ):
            outgoing[transition.from_step].append(transition)
    steps = sorted(spec.steps, key=lambda s: s.order)
    for step in steps:
        ways = outgoing[step.code]
        if not ways:
            errors.append(_("环节“%(step)s”没有前进流转") % {"step": step.name})
        elif all(way.condition for way in ways):
            errors.append(_("环节“%(step)s”的前进流转都带条件，须有一条无条件流转兜底") % {"step": step.name})
        elif any(not way.condition for way in ways[:-1]):
            errors.append(_("环节“%(step)s”的无条件流转之后还有流转，后者永远不会用到") % {"step": step.name})
    first = steps[0].code
    reached = {first}
    queue = deque([first])
    while queue:
        for way in outgoing[queue.popleft()]:
            if way.to_step is not None and way.to_step not in reached:
                reached.add(way.to_step)
                queue.append(way.to_step)
    for step in steps:
        if step.code not in reached:
            errors.append(_("环节“%(step)s”从第一个环节无法到达") % {"step": step.name})
    ending = {code for code, ways in outgoing.items() if any(way.to_step is None for way in ways)}
    changed = True
    while changed:
        changed = False
        for code, ways in outgoing.items():
            if code not in ending and any(way.to_step in ending for way in ways):
                ending.add(code)
                changed = True
    if first not in ending:
        errors.append(_("流程没有通向结束的路径"))
    return errors


def process_definition_validate(definition: ProcessDefinition | ProcessSpec) -> list[str]:
    """What is wrong with a definition (stored or plain seed data), in translated sentences; [] when valid."""
    errors: list[str] = []
    if isinstance(definition, ProcessDefinition):
        errors += _foreign_transition_errors(definition)
        spec, check_posts = process_definition_spec(definition), False
    else:
        spec, check_posts = definition, True
    if spec.business_type not in BusinessType.values:
        errors.append(_("业务类型“%(type)s”不受支持") % {"type": spec.business_type})
    if bool(spec.commitment_kind) != bool(spec.commitment_value):
        errors.append(_("承诺时限类型和承诺时限须同时填写或同时留空"))
    elif spec.commitment_kind and spec.commitment_kind not in LimitKind.values:
        errors.append(_("承诺时限类型“%(kind)s”不受支持") % {"kind": spec.commitment_kind})
    if not spec.steps:
        return errors + [_("流程没有环节")]
    by_code: dict[str, StepSpec] = {}
    for step in spec.steps:
        if step.code in by_code:
            errors.append(_("环节编码“%(code)s”重复") % {"code": step.code})
        by_code[step.code] = step
    known_checks = _known_checks()
    for step in sorted(spec.steps, key=lambda s: s.order):
        errors += _step_errors(step, check_posts=check_posts, known_checks=known_checks)
    errors += _transition_errors(spec, by_code)
    errors += _graph_errors(spec, by_code)
    return errors


# Writing definitions


def _definition_write(*, spec: ProcessSpec, version: int, active: bool, posts: dict[str, Post]) -> ProcessDefinition:
    definition = ProcessDefinition.objects.create(
        business_type=spec.business_type, version=version, name=spec.name, active=active,
        commitment_kind=spec.commitment_kind, commitment_value=spec.commitment_value,
        allows_anonymous=spec.allows_anonymous, requires_account=spec.requires_account,
    )
    steps = {}
    for step in spec.steps:
        steps[step.code] = StepDefinition.objects.create(
            definition=definition, code=step.code, name=step.name, name_en=step.name_en,
            customer_text=step.customer_text, customer_text_en=step.customer_text_en, order=step.order,
            post=posts[step.post] if step.post else None, limit_kind=step.limit_kind, limit_value=step.limit_value,
            limit_by_area=dict(step.limit_by_area), priority=step.priority,
            auto_skip_when_overdue=step.auto_skip_when_overdue,
            fields=[dict(f) for f in step.fields], checks=list(step.checks),
        )
    TransitionDefinition.objects.bulk_create(
        TransitionDefinition(
            definition=definition, from_step=steps[t.from_step],
            to_step=steps[t.to_step] if t.to_step is not None else None,
            kind=t.kind, condition=dict(t.condition), order=t.order, label=t.label,
        )
        for t in spec.transitions
    )
    return definition


def process_definitions_sync() -> list[ProcessDefinition]:
    """Write and activate version 1 of every business type that has no definition yet; returns those written.
    Idempotent, and never touches a type that has any definition (edited or not). Needs the posts from
    roles_sync(); locks nothing (the version unique constraint stops a concurrent duplicate)."""
    created = []
    with transaction.atomic():
        existing = set(ProcessDefinition.objects.values_list("business_type", flat=True).distinct())
        missing = [spec for business_type, spec in SEED_DEFINITIONS.items() if business_type not in existing]
        if not missing:
            return []
        posts = Post.objects.in_bulk(field_name="code")
        for spec in missing:
            absent = {step.post for step in spec.steps if step.post and step.post not in posts}
            if absent:
                raise LookupError(f"posts missing for {spec.business_type}: {sorted(absent)}; run roles_sync() first")
            created.append(_definition_write(spec=spec, version=1, active=True, posts=posts))
    return created


def _lock_business_type(business_type: str) -> list[ProcessDefinition]:
    return list(ProcessDefinition.objects.select_for_update().filter(business_type=business_type).order_by("pk"))


def process_definition_new_version(*, definition: ProcessDefinition) -> ProcessDefinition:
    """A copy of `definition` (steps, transitions, commitment) as the next version, inactive, ready to edit.
    Locks the business type's definitions so two copies cannot take the same number."""
    with transaction.atomic():
        _lock_business_type(definition.business_type)
        latest = ProcessDefinition.objects.filter(business_type=definition.business_type).aggregate(
            latest=Max("version")
        )["latest"]
        spec = process_definition_spec(definition)
        posts = Post.objects.in_bulk(field_name="code")
        return _definition_write(spec=spec, version=latest + 1, active=False, posts=posts)


def process_definition_activate(*, definition: ProcessDefinition) -> ProcessDefinition:
    """Make `definition` its business type's active version, after validating it; the previously active one is
    deactivated in the same transaction. New tickets use it; running tickets keep their version.
    Locks the business type's definitions (select_for_update). Raises ProcessDefinitionActivationRefused."""
    with transaction.atomic():
        _lock_business_type(definition.business_type)
        current = ProcessDefinition.objects.get(pk=definition.pk)
        errors = process_definition_validate(current)
        if errors:
            raise ProcessDefinitionActivationRefused(errors)
        if not current.active:
            ProcessDefinition.objects.filter(business_type=current.business_type, active=True).update(active=False)
            current.active = True
            current.save(update_fields=["active"])
    definition.active = True
    return current
