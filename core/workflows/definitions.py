"""The seed process definitions, one per business type, as plain data.

core.services.process_definitions.process_definitions_sync() writes each as version 1 where a business type has
no definition yet; from then on the database copy is the one that counts (edited in the admin as new versions).
The step lists follow ../shared/DOMAIN.md; the limits are the published service commitments: working days on the
holiday calendar, or calendar minutes (24x7) for fault repair and reconnection. A definition's commitment is the
customer's promise (e.g. acceptance to power on); archive and follow-up steps after it run on their own limits.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.models import BusinessType, LimitKind, StepPriority, TransitionDefinition

WORKING_DAYS = LimitKind.WORKING_DAYS.value
CALENDAR_MINUTES = LimitKind.CALENDAR_MINUTES.value
FORWARD = TransitionDefinition.Kind.FORWARD.value
RETURN = TransitionDefinition.Kind.RETURN.value
LOW = StepPriority.LOW.value
NORMAL = StepPriority.NORMAL.value
ESSENTIAL = StepPriority.ESSENTIAL.value


@dataclass(frozen=True)
class StepSpec:
    code: str
    name: str
    name_en: str
    post: str | None
    customer_text: str
    customer_text_en: str
    limit_value: int = 1
    limit_kind: str = WORKING_DAYS
    limit_by_area: dict = field(default_factory=dict)
    priority: int = NORMAL
    auto_skip_when_overdue: bool = False
    fields: tuple[dict, ...] = ()
    checks: tuple[str, ...] = ()
    # Position in the process; process_spec() numbers the steps 1..n in the order they are listed.
    order: int = 0


@dataclass(frozen=True)
class TransitionSpec:
    from_step: str
    to_step: str | None
    kind: str = FORWARD
    condition: dict = field(default_factory=dict)
    order: int = 0
    label: str = ""


@dataclass(frozen=True)
class ProcessSpec:
    business_type: str
    name: str
    steps: tuple[StepSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    commitment_kind: str = ""
    commitment_value: int | None = None
    allows_anonymous: bool = False
    requires_account: bool = False


def process_spec(*, steps: list[StepSpec], **kwargs) -> ProcessSpec:
    """A ProcessSpec whose steps are numbered in the order given."""
    numbered = tuple(dataclasses.replace(step, order=index) for index, step in enumerate(steps, start=1))
    kwargs["business_type"] = str(kwargs["business_type"])
    return ProcessSpec(steps=numbered, **kwargs)


# Field specs (see the contract in core/models/tickets.py StepDefinition)


def _field(name: str, label: str, label_en: str, kind: str, required: bool, **extra) -> dict:
    spec = {"name": name, "label": label, "label_en": label_en, "type": kind, "required": required}
    spec.update({key: value for key, value in extra.items() if value is not None})
    return spec


def text(name, label, label_en, *, required=True, max_length=None) -> dict:
    return _field(name, label, label_en, "text", required, max_length=max_length)


def textarea(name, label, label_en, *, required=True) -> dict:
    return _field(name, label, label_en, "textarea", required)


def integer(name, label, label_en, *, required=True, min=None, max=None) -> dict:
    return _field(name, label, label_en, "integer", required, min=min, max=max)


def decimal(name, label, label_en, *, required=True, min=None, max=None) -> dict:
    return _field(name, label, label_en, "decimal", required, min=min, max=max)


def date(name, label, label_en, *, required=True) -> dict:
    return _field(name, label, label_en, "date", required)


def datetime(name, label, label_en, *, required=True) -> dict:
    return _field(name, label, label_en, "datetime", required)


def boolean(name, label, label_en, *, required=True) -> dict:
    return _field(name, label, label_en, "boolean", required)


def phone(name, label, label_en, *, required=True) -> dict:
    return _field(name, label, label_en, "phone", required)


def choice(name, label, label_en, choices: list[list[str]], *, required=True) -> dict:
    return _field(name, label, label_en, "choice", required, choices=[list(pair) for pair in choices])


# Transitions


def forward(from_step: str, to_step: str | None, *, condition: dict | None = None, order: int = 0,
            label: str = "") -> TransitionSpec:
    return TransitionSpec(from_step, to_step, FORWARD, condition or {}, order, label)


def back(from_step: str, to_step: str, label: str) -> TransitionSpec:
    return TransitionSpec(from_step, to_step, RETURN, {}, 0, label)


def chain(*codes: str) -> list[TransitionSpec]:
    """Unconditional forward transitions from each step to the next, and from the last to the end."""
    return [forward(a, b) for a, b in zip(codes, codes[1:])] + [forward(codes[-1], None)]


# Choices shared by several processes. Values match core.models enums; labels are the Chinese ones.

SATISFACTION_CHOICES = [["5", "非常满意"], ["4", "满意"], ["3", "一般"], ["2", "不满意"], ["1", "非常不满意"]]
CATEGORY_CHOICES = [
    ["residential", "居民生活"],
    ["non_residential", "一般工商业"],
    ["large_industry", "大工业"],
    ["agricultural", "农业生产"],
]
COMPLAINT_CLASS_CHOICES = [
    ["service", "服务类"],
    ["business_process", "业务办理类"],
    ["power_quality", "供电质量类"],
    ["tariff_billing", "电价电费类"],
    ["other", "其他"],
]

DOCUMENTS_COMPLETE = boolean("documents_complete", "申请资料齐全", "Application documents complete")


# Steps many processes share


def follow_up_step(*, limit_value: int = 2, limit_kind: str = WORKING_DAYS) -> StepSpec:
    """The follow-up call (回访): low priority, skipped with an evaluation when overdue."""
    return StepSpec(
        "follow_up", "回访", "Follow-up call", "agent",
        "我们将回访您对本次服务的评价", "We will call to ask how we did",
        limit_value=limit_value, limit_kind=limit_kind, priority=LOW, auto_skip_when_overdue=True,
        fields=(
            choice("satisfaction", "满意度", "Satisfaction", SATISFACTION_CHOICES),
            textarea("follow_up_note", "回访记录", "Follow-up notes", required=False),
        ),
    )


def archive_step(*, limit_value: int = 1) -> StepSpec:
    """Filing the paper and electronic records (信息归档): low priority, skipped only by a supervisor."""
    return StepSpec(
        "archive", "信息归档", "Archive records", "archivist",
        "业务已办结，资料正在归档", "Your request is done; its records are being filed",
        limit_value=limit_value, priority=LOW,
        fields=(text("archive_number", "档案编号", "Archive number", max_length=40),),
    )


def review_step(*, limit_value: int = 1, customer_text: str = "正在审核您的申请",
                customer_text_en: str = "Your application is being reviewed") -> StepSpec:
    return StepSpec(
        "review", "审核", "Review", "account_manager", customer_text, customer_text_en,
        limit_value=limit_value,
        fields=(
            date("reviewed_on", "审核日期", "Reviewed on"),
            textarea("review_opinion", "审核意见", "Review opinion"),
        ),
    )


def reply_step(*, limit_value: int = 1) -> StepSpec:
    return StepSpec(
        "reply", "答复客户", "Reply to the customer", "agent",
        "处理已完成，结果将及时答复您", "It has been handled; we will tell you the outcome shortly",
        limit_value=limit_value,
        fields=(
            datetime("replied_at", "答复时间", "Replied at"),
            textarea("reply", "答复内容", "Reply"),
        ),
    )


# New connections (业扩报装)


def _lv_connection(*, business_type: str, name: str, commitment: int, contract: bool) -> ProcessSpec:
    steps = [
        StepSpec(
            "accept", "受理", "Accept application", "counter_clerk",
            "已受理您的用电申请", "Your application has been accepted",
            fields=(
                text("applicant_name", "申请人", "Applicant", max_length=60),
                text("supply_address", "用电地址", "Supply address", max_length=200),
                decimal("requested_capacity_kva", "申请容量（千伏安）", "Requested capacity (kVA)", min=1, max=100),
                DOCUMENTS_COMPLETE,
            ),
        ),
        StepSpec(
            "survey", "勘查及确定供电方案", "Site survey and supply plan", "surveyor",
            "已安排工作人员上门勘查", "A surveyor is coming to your site",
            limit_value=2, priority=ESSENTIAL,
            fields=(
                date("surveyed_on", "勘查日期", "Surveyed on"),
                text("transformer_area_code", "接入台区", "Transformer area", required=False, max_length=40),
                text("meter_location", "表位", "Meter location", max_length=100),
                textarea("supply_plan", "供电方案", "Supply plan"),
            ),
        ),
    ]
    if contract:
        steps.append(
            StepSpec(
                "contract", "签订供用电合同", "Sign the supply contract", "account_manager",
                "请与我们签订供用电合同", "Please sign the electricity supply contract with us",
                fields=(
                    text("contract_number", "合同编号", "Contract number", max_length=40),
                    date("signed_on", "签订日期", "Signed on"),
                ),
            )
        )
    steps += [
        StepSpec(
            "meter_install", "装表接电", "Install meter and connect", "meter_fitter",
            "已安排装表接电", "We are installing your meter and connecting the supply",
            limit_value=commitment - (4 if contract else 3), priority=ESSENTIAL,
            fields=(
                text("meter_asset_number", "电能表资产编号", "Meter asset number", max_length=40),
                decimal("initial_reading", "装表示数", "Reading at installation", min=0),
                datetime("connected_at", "送电时间", "Connected at"),
            ),
        ),
        archive_step(),
        follow_up_step(),
    ]
    codes = [step.code for step in steps]
    return process_spec(
        business_type=business_type, name=name, steps=steps,
        transitions=tuple(chain(*codes) + [
            back("survey", "accept", "资料不全，退回受理"),
            back("meter_install", "survey", "现场条件与方案不符，退回勘查"),
        ]),
        commitment_kind=WORKING_DAYS, commitment_value=commitment,
    )


def _hv_like(*, business_type: str, name: str, accept_fields: tuple[dict, ...], accept_checks: tuple[str, ...],
             requires_account: bool) -> ProcessSpec:
    """High-voltage connection and capacity increase: supply plan reply (15 working days for single supply,
    30 for dual), design review (10, waived for small capacity), mid-construction inspection (5), completion
    acceptance (5), contract, meter install and energise (5). The customer's own design and construction time
    is a suspension, so the commitment counts only the utility's steps."""

    def supply_plan(code: str, step_name: str, step_name_en: str, limit_value: int) -> StepSpec:
        return StepSpec(
            code, step_name, step_name_en, "account_manager",
            "正在制定供电方案，确定后将答复您", "We are drawing up your supply plan and will send it to you",
            limit_value=limit_value,
            fields=(
                textarea("supply_plan", "供电方案", "Supply plan"),
                decimal("approved_capacity_kva", "核定容量（千伏安）", "Approved capacity (kVA)", min=1),
                choice("design_review", "设计审查", "Design review",
                       [["required", "需要设计审查"], ["waived", "小容量，免于设计审查"]]),
                date("replied_on", "答复日期", "Replied on"),
            ),
        )

    steps = [
        StepSpec(
            "accept", "受理", "Accept application", "account_manager",
            "已受理您的用电申请", "Your application has been accepted",
            fields=accept_fields + (DOCUMENTS_COMPLETE,), checks=accept_checks,
        ),
        StepSpec(
            "survey", "现场勘查", "Site survey", "surveyor",
            "已安排工作人员上门勘查", "A surveyor is coming to your site",
            limit_value=2, priority=ESSENTIAL,
            fields=(
                date("surveyed_on", "勘查日期", "Surveyed on"),
                choice("supply_mode", "供电方式", "Supply mode", [["single", "单电源"], ["dual", "双电源"]]),
                textarea("survey_notes", "勘查记录", "Survey notes"),
            ),
        ),
        supply_plan("supply_plan", "供电方案答复", "Supply plan reply", 15),
        supply_plan("supply_plan_dual", "双电源供电方案答复", "Dual-supply plan reply", 30),
        StepSpec(
            "design_review", "设计文件审查", "Design review", "account_manager",
            "正在审查您提交的设计文件", "We are reviewing your design documents",
            limit_value=10,
            fields=(
                date("reviewed_on", "审查日期", "Reviewed on"),
                textarea("review_opinion", "审查意见", "Review opinion"),
            ),
        ),
        StepSpec(
            "mid_inspection", "中间检查", "Mid-construction inspection", "surveyor",
            "已安排工作人员进行中间检查", "An inspector is checking your works in progress",
            limit_value=5, priority=ESSENTIAL,
            fields=(
                date("inspected_on", "检查日期", "Inspected on"),
                textarea("inspection_findings", "检查意见", "Inspection findings"),
            ),
        ),
        StepSpec(
            "completion_acceptance", "竣工检验", "Completion acceptance", "surveyor",
            "已安排工作人员进行竣工检验", "An inspector is checking your finished works",
            limit_value=5, priority=ESSENTIAL,
            fields=(
                date("accepted_on", "检验日期", "Accepted on"),
                textarea("acceptance_findings", "检验意见", "Acceptance findings"),
            ),
        ),
        StepSpec(
            "contract", "签订供用电合同", "Sign the supply contract", "account_manager",
            "请与我们签订供用电合同", "Please sign the electricity supply contract with us",
            limit_value=2,
            fields=(
                text("contract_number", "合同编号", "Contract number", max_length=40),
                date("signed_on", "签订日期", "Signed on"),
            ),
        ),
        StepSpec(
            "meter_install", "装表送电", "Install meter and energise", "meter_fitter",
            "已安排装表送电", "We are installing your meter and energising the supply",
            limit_value=5, priority=ESSENTIAL,
            fields=(
                text("meter_asset_number", "电能表资产编号", "Meter asset number", max_length=40),
                decimal("initial_reading", "装表示数", "Reading at installation", min=0),
                datetime("energised_at", "送电时间", "Energised at"),
            ),
        ),
        archive_step(),
        follow_up_step(),
    ]
    waived = {"field": "design_review", "op": "eq", "value": "waived"}
    transitions = [
        forward("accept", "survey"),
        forward("survey", "supply_plan_dual", condition={"field": "supply_mode", "op": "eq", "value": "dual"},
                label="双电源"),
        forward("survey", "supply_plan", order=1),
        forward("supply_plan", "mid_inspection", condition=waived, label="免于设计审查"),
        forward("supply_plan", "design_review", order=1),
        forward("supply_plan_dual", "mid_inspection", condition=waived, label="免于设计审查"),
        forward("supply_plan_dual", "design_review", order=1),
        *chain("design_review", "mid_inspection", "completion_acceptance", "contract", "meter_install", "archive",
               "follow_up"),
        back("survey", "accept", "资料不全，退回受理"),
        back("completion_acceptance", "mid_inspection", "检验不合格，整改后复查"),
    ]
    return process_spec(
        business_type=business_type, name=name, steps=steps, transitions=tuple(transitions),
        commitment_kind=WORKING_DAYS, commitment_value=22, requires_account=requires_account,
    )


# Changes of service (变更用电): accept -> review -> field work where needed -> archive -> follow-up


def _change_of_service(*, business_type: str, name: str, commitment: int, accept: StepSpec,
                       field_work: list[StepSpec], review: StepSpec | None = None,
                       returns: list[TransitionSpec] | None = None) -> ProcessSpec:
    steps = [accept, review or review_step(), *field_work, archive_step(), follow_up_step()]
    return process_spec(
        business_type=business_type, name=name, steps=steps,
        transitions=tuple(chain(*[s.code for s in steps]) + [back("review", "accept", "资料不全，退回受理")]
                          + (returns or [])),
        commitment_kind=WORKING_DAYS, commitment_value=commitment, requires_account=True,
    )


def _accept(*fields: dict, checks: tuple[str, ...] = ()) -> StepSpec:
    return StepSpec(
        "accept", "受理", "Accept application", "counter_clerk",
        "已受理您的申请", "Your application has been accepted",
        fields=(*fields, DOCUMENTS_COMPLETE), checks=checks,
    )


def _seal(code: str, name: str, name_en: str, customer_text: str, customer_text_en: str) -> StepSpec:
    return StepSpec(
        code, name, name_en, "meter_fitter", customer_text, customer_text_en,
        limit_value=2, priority=ESSENTIAL,
        fields=(
            datetime("done_at", "完成时间", "Done at"),
            text("seal_number", "封印编号", "Seal number", max_length=40),
            decimal("reading", "电能表示数", "Meter reading", min=0),
        ),
    )


def _capacity_reduction() -> ProcessSpec:
    return _change_of_service(
        business_type=BusinessType.CAPACITY_REDUCTION, name="减容", commitment=5,
        accept=_accept(
            decimal("new_capacity_kva", "减容后容量（千伏安）", "Capacity after reduction (kVA)", min=0),
            date("reduce_from", "减容开始日期", "Reduction starts on"),
            checks=("capacity_below_current",),
        ),
        field_work=[_seal("seal", "设备封停", "Seal equipment", "已安排工作人员现场封停设备",
                          "Staff are coming to seal the equipment")],
    )


def _suspension() -> ProcessSpec:
    return _change_of_service(
        business_type=BusinessType.SUSPENSION, name="暂停", commitment=5,
        accept=_accept(
            datetime("start_at", "暂停开始时间", "Suspension starts at"),
            datetime("end_at", "暂停结束时间", "Suspension ends at"),
            textarea("reason", "暂停原因", "Reason", required=False),
            checks=("end_after_start",),
        ),
        field_work=[_seal("seal", "现场加封", "Seal the meter", "已安排工作人员现场加封",
                          "Staff are coming to seal your supply")],
    )


def _resumption() -> ProcessSpec:
    accept = _accept(date("resume_on", "恢复用电日期", "Resume on"))
    steps = [
        accept,
        _seal("unseal", "现场启封", "Unseal the meter", "已安排工作人员现场启封恢复用电",
              "Staff are coming to restore your supply"),
        archive_step(),
        follow_up_step(),
    ]
    return process_spec(
        business_type=BusinessType.RESUMPTION, name="暂停恢复", steps=steps,
        transitions=tuple(chain(*[s.code for s in steps]) + [back("unseal", "accept", "信息有误，退回受理")]),
        commitment_kind=WORKING_DAYS, commitment_value=3, requires_account=True,
    )


def _name_change() -> ProcessSpec:
    return _change_of_service(
        business_type=BusinessType.NAME_CHANGE, name="更名", commitment=3,
        accept=_accept(
            text("new_name", "新户名", "New account name", max_length=100),
            checks=("new_name_differs", "account_without_arrears"),
        ),
        review=review_step(limit_value=2),
        field_work=[],
    )


def _transfer() -> ProcessSpec:
    return _change_of_service(
        business_type=BusinessType.TRANSFER, name="过户", commitment=5,
        accept=_accept(
            text("new_owner_name", "新户主", "New owner", max_length=100),
            phone("new_owner_phone", "新户主电话", "New owner's phone"),
            checks=("account_without_arrears",),
        ),
        field_work=[
            StepSpec(
                "transfer_reading", "过户抄表", "Transfer meter reading", "meter_fitter",
                "已安排工作人员抄录过户示数", "Staff are reading your meter for the transfer",
                limit_value=2, priority=ESSENTIAL,
                fields=(
                    decimal("final_reading", "过户示数", "Reading at transfer", min=0),
                    datetime("read_at", "抄表时间", "Read at"),
                ),
                checks=("reading_not_below_previous",),
            )
        ],
    )


def _tariff_class_change() -> ProcessSpec:
    return _change_of_service(
        business_type=BusinessType.TARIFF_CLASS_CHANGE, name="改类", commitment=5,
        accept=_accept(
            choice("new_category", "新用电类别", "New tariff class", CATEGORY_CHOICES),
            textarea("reason", "改类原因", "Reason"),
            checks=("new_tariff_differs",),
        ),
        field_work=[
            StepSpec(
                "site_check", "现场核查", "Site check", "surveyor",
                "已安排工作人员现场核查用电性质", "Staff are checking how the supply is used",
                limit_value=2, priority=ESSENTIAL,
                fields=(
                    date("checked_on", "核查日期", "Checked on"),
                    boolean("usage_matches", "用电性质与申请相符", "Use matches the application"),
                    textarea("check_notes", "核查记录", "Check notes", required=False),
                ),
            )
        ],
        returns=[back("site_check", "review", "核查结果与审核不符，退回审核")],
    )


def _account_closure() -> ProcessSpec:
    return _change_of_service(
        business_type=BusinessType.ACCOUNT_CLOSURE, name="销户", commitment=5,
        accept=_accept(date("close_on", "销户日期", "Close on"), checks=("account_without_arrears",)),
        review=StepSpec(
            "review", "审核", "Review", "account_manager",
            "正在审核您的销户申请", "Your closure request is being reviewed",
            fields=(date("reviewed_on", "审核日期", "Reviewed on"), textarea("review_opinion", "审核意见", "Opinion")),
        ),
        field_work=[
            StepSpec(
                "meter_removal", "拆表", "Remove the meter", "meter_fitter",
                "已安排工作人员拆除电能表", "Staff are coming to remove the meter",
                limit_value=2, priority=ESSENTIAL,
                fields=(
                    decimal("final_reading", "拆表示数", "Final reading", min=0),
                    datetime("removed_at", "拆表时间", "Removed at"),
                ),
                checks=("reading_not_below_previous",),
            ),
            StepSpec(
                "settlement", "电费结清", "Final settlement", "account_manager",
                "正在结清您的电费", "We are settling your final bill",
                fields=(date("settled_on", "结清日期", "Settled on"),),
                checks=("account_without_arrears",),
            ),
        ],
    )


# Fault repair (故障报修): calendar minutes, 24x7; arrival and restoration promises by area


def _fault_repair() -> ProcessSpec:
    steps = [
        StepSpec(
            "dispatch", "派工", "Dispatch a crew", "dispatcher",
            "已受理您的报修，正在安排抢修人员", "Your fault report is in; a repair crew is being arranged",
            limit_kind=CALENDAR_MINUTES, limit_value=10, priority=ESSENTIAL,
            fields=(
                text("crew", "抢修班组", "Repair crew", max_length=60),
                choice("fault_kind", "故障类型", "Fault kind", [
                    ["low_voltage", "低压故障"],
                    ["high_voltage", "高压故障"],
                    ["meter", "计量装置故障"],
                    ["customer_side", "客户内部故障"],
                ]),
            ),
        ),
        StepSpec(
            "arrive", "到达现场", "Arrive on site", "repair_crew",
            "抢修人员正在赶往现场", "The repair crew is on the way",
            limit_kind=CALENDAR_MINUTES, limit_value=45, limit_by_area={"city": 45, "rural": 90, "remote": 120},
            priority=ESSENTIAL,
            fields=(
                datetime("arrived_at", "到达时间", "Arrived at"),
                textarea("site_findings", "现场情况", "What the crew found", required=False),
            ),
        ),
        StepSpec(
            "restore", "恢复供电", "Restore supply", "repair_crew",
            "抢修人员已到达现场，正在抢修", "The repair crew is on site and working",
            limit_kind=CALENDAR_MINUTES, limit_value=180, limit_by_area={"city": 180, "rural": 240, "remote": 240},
            priority=ESSENTIAL,
            fields=(
                datetime("restored_at", "恢复供电时间", "Restored at"),
                choice("cause", "故障原因", "Cause", [
                    ["equipment", "设备故障"],
                    ["weather", "天气原因"],
                    ["external_damage", "外力破坏"],
                    ["customer_side", "客户内部原因"],
                    ["other", "其他"],
                ]),
                textarea("repair_actions", "处理情况", "What was done"),
            ),
            checks=("restored_after_arrival",),
        ),
        StepSpec(
            "report_back", "回单", "Report back", "dispatcher",
            "供电已恢复，正在核实抢修结果", "Power is back; we are checking the repair report",
            limit_kind=CALENDAR_MINUTES, limit_value=60,
            fields=(textarea("report", "抢修回单", "Repair report"),),
        ),
        follow_up_step(limit_value=1440, limit_kind=CALENDAR_MINUTES),
    ]
    return process_spec(
        business_type=BusinessType.FAULT_REPAIR, name="故障报修", steps=steps,
        transitions=tuple(chain("dispatch", "arrive", "restore", "report_back", "follow_up") + [
            back("arrive", "dispatch", "改派其他班组"),
            back("report_back", "restore", "回单不完整，退回抢修"),
        ]),
        commitment_kind=CALENDAR_MINUTES, commitment_value=1440,
    )


# Customer appeals (投诉, 举报, 意见, 建议, 表扬) and service requests


def _route_step(*, extra_fields: tuple[dict, ...] = ()) -> StepSpec:
    return StepSpec(
        "route", "派发责任单位", "Route to the responsible unit", "supervisor",
        "您的诉求已受理，正在转交责任部门", "Received; we are passing it to the team responsible",
        fields=(*extra_fields, text("responsible_unit", "责任单位", "Responsible unit", max_length=100)),
    )


def _handle_step(*, post: str = "account_manager", limit_value: int = 3, fields: tuple[dict, ...] = (),
                 checks: tuple[str, ...] = ()) -> StepSpec:
    return StepSpec(
        "handle", "调查处理", "Investigate and handle", post,
        "正在调查处理", "We are looking into it",
        limit_value=limit_value,
        fields=(*fields, textarea("findings", "调查情况", "Findings"), textarea("handling", "处理意见", "Action taken")),
        checks=checks,
    )


def _close_review_step() -> StepSpec:
    return StepSpec(
        "review", "审核", "Review", "supervisor",
        "正在审核处理结果", "We are checking how it was handled",
        fields=(textarea("review_opinion", "审核意见", "Review opinion"),),
    )


def _complaint() -> ProcessSpec:
    steps = [
        _route_step(extra_fields=(choice("complaint_class", "投诉分类", "Complaint class", COMPLAINT_CLASS_CHOICES),)),
        _handle_step(
            fields=(datetime("contacted_at", "联系客户时间", "Customer contacted at"),),
            checks=("contact_within_24h",),
        ),
        reply_step(),
        _close_review_step(),
        follow_up_step(),
    ]
    return process_spec(
        business_type=BusinessType.COMPLAINT, name="投诉", steps=steps,
        transitions=tuple(chain("route", "handle", "reply", "review", "follow_up") + [
            back("handle", "route", "非本单位责任，退回重新派发"),
            back("review", "handle", "处理不到位，退回重新处理"),
        ]),
        commitment_kind=WORKING_DAYS, commitment_value=5,
    )


def _report() -> ProcessSpec:
    """A report (举报) may be anonymous; the reporter is never called back for a follow-up."""
    steps = [
        _route_step(),
        _handle_step(
            post="auditor", limit_value=7,
            fields=(choice("reply_channel", "答复方式", "How to reply",
                           [["phone", "电话答复"], ["none", "匿名举报，无需答复"]]),),
        ),
        reply_step(),
        _close_review_step(),
    ]
    return process_spec(
        business_type=BusinessType.REPORT, name="举报", steps=steps,
        transitions=(
            forward("route", "handle"),
            forward("handle", "review", condition={"field": "reply_channel", "op": "eq", "value": "none"},
                    label="匿名举报，无需答复"),
            forward("handle", "reply", order=1),
            forward("reply", "review"),
            forward("review", None),
            back("review", "handle", "处理不到位，退回重新处理"),
        ),
        commitment_kind=WORKING_DAYS, commitment_value=10, allows_anonymous=True,
    )


def _appeal(*, business_type: str, name: str, commitment: int) -> ProcessSpec:
    """Opinions and suggestions: routed, handled, answered, followed up."""
    steps = [_route_step(), _handle_step(limit_value=commitment - 2), reply_step(), follow_up_step()]
    return process_spec(
        business_type=business_type, name=name, steps=steps,
        transitions=tuple(chain(*[s.code for s in steps]) + [back("handle", "route", "非本单位责任，退回重新派发")]),
        commitment_kind=WORKING_DAYS, commitment_value=commitment,
    )


def _praise() -> ProcessSpec:
    steps = [
        StepSpec(
            "convey", "转达表扬", "Pass the praise on", "supervisor",
            "已收到您的表扬，正在转达相关单位和人员", "Thank you; we are passing your praise to the people concerned",
            limit_value=3,
            fields=(
                text("praised_unit", "受表扬单位", "Team praised", max_length=100),
                text("praised_person", "受表扬人员", "Person praised", required=False, max_length=60),
                date("conveyed_on", "转达日期", "Passed on"),
            ),
        ),
        StepSpec(
            "thank", "致谢客户", "Thank the customer", "agent",
            "感谢您的表扬", "Thank you for your kind words",
            limit_value=2, priority=LOW, auto_skip_when_overdue=True,
            fields=(datetime("thanked_at", "致谢时间", "Thanked at"),),
        ),
    ]
    return process_spec(
        business_type=BusinessType.PRAISE, name="表扬", steps=steps, transitions=tuple(chain("convey", "thank")),
        commitment_kind=WORKING_DAYS, commitment_value=5,
    )


def _service_request(*, business_type: str, name: str, commitment: int, handle_name: str,
                     handle_name_en: str) -> ProcessSpec:
    steps = [
        StepSpec(
            "handle", handle_name, handle_name_en, "account_manager",
            "正在办理您的请求", "We are working on your request",
            limit_value=commitment - 1,
            fields=(textarea("handling", "办理情况", "What was done"),),
        ),
        reply_step(),
        follow_up_step(),
    ]
    return process_spec(
        business_type=business_type, name=name, steps=steps, transitions=tuple(chain("handle", "reply", "follow_up")),
        commitment_kind=WORKING_DAYS, commitment_value=commitment,
    )


# Metering and arrears


def _meter_accuracy_check() -> ProcessSpec:
    steps = [
        StepSpec(
            "test", "现场校验", "On-site meter test", "meter_fitter",
            "已安排工作人员现场校验电能表", "Staff are coming to test your meter",
            limit_value=3, priority=ESSENTIAL,
            fields=(
                datetime("tested_at", "校验时间", "Tested at"),
                decimal("error_percent", "误差（%）", "Error (%)", min=-100, max=100),
                choice("result", "校验结论", "Result", [["pass", "合格"], ["fail", "超差"]]),
            ),
        ),
        StepSpec(
            "replace_meter", "换表", "Replace the meter", "meter_fitter",
            "电能表误差超标，正在为您更换", "Your meter is out of tolerance and is being replaced",
            limit_value=1, priority=ESSENTIAL,
            fields=(
                decimal("final_reading", "旧表拆表示数", "Old meter's final reading", min=0),
                text("meter_asset_number", "新表资产编号", "New meter asset number", max_length=40),
                decimal("initial_reading", "新表示数", "New meter's reading", min=0),
            ),
            checks=("reading_not_below_previous",),
        ),
        StepSpec(
            "notify_result", "答复校验结果", "Tell the customer the result", "agent",
            "校验已完成，结果将及时告知您", "The test is done; we will tell you the result shortly",
            fields=(datetime("replied_at", "答复时间", "Replied at"), textarea("reply", "答复内容", "Reply")),
        ),
    ]
    return process_spec(
        business_type=BusinessType.METER_ACCURACY_CHECK, name="计量异常", steps=steps,
        transitions=(
            forward("test", "replace_meter", condition={"field": "result", "op": "eq", "value": "fail"}, label="超差"),
            forward("test", "notify_result", order=1),
            forward("replace_meter", "notify_result"),
            forward("notify_result", None),
        ),
        commitment_kind=WORKING_DAYS, commitment_value=5, requires_account=True,
    )


def _arrears_disconnection() -> ProcessSpec:
    steps = [
        StepSpec(
            "notice", "送达停电通知", "Serve the disconnection notice", "account_manager",
            "您的电费已逾期，请尽快缴清，以免停电", "Your bill is overdue; please pay it to avoid disconnection",
            limit_value=2,
            fields=(
                date("notice_served_on", "通知送达日期", "Notice served on"),
                date("disconnect_on", "计划停电日期", "Disconnection date"),
                choice("notice_method", "送达方式", "How it was served",
                       [["in_person", "当面送达"], ["posted", "张贴"], ["registered_mail", "挂号信"]]),
            ),
            checks=("account_arrears_over_30_days", "notice_at_least_7_days"),
        ),
        StepSpec(
            "disconnect", "实施停电", "Disconnect", "meter_fitter",
            "已送达停电通知，逾期未缴清将按通知日期停电",
            "A disconnection notice has been served; unpaid, the supply is cut on the date it gives",
            limit_value=10, priority=ESSENTIAL,
            fields=(
                datetime("disconnected_at", "停电时间", "Disconnected at"),
                decimal("reading", "停电示数", "Reading at disconnection", min=0),
            ),
            checks=("account_arrears_over_30_days",),
        ),
        archive_step(),
    ]
    return process_spec(
        business_type=BusinessType.ARREARS_DISCONNECTION, name="欠费停电", steps=steps,
        transitions=tuple(chain("notice", "disconnect", "archive")),
        commitment_kind=WORKING_DAYS, commitment_value=12, requires_account=True,
    )


def _reconnection() -> ProcessSpec:
    steps = [
        StepSpec(
            "confirm_payment", "核实缴费", "Confirm payment", "counter_clerk",
            "已收到您的缴费，正在安排复电", "Payment received; reconnection is being arranged",
            limit_kind=CALENDAR_MINUTES, limit_value=60, priority=ESSENTIAL,
            fields=(datetime("paid_at", "缴费时间", "Paid at"),),
            checks=("account_without_arrears",),
        ),
        StepSpec(
            "reconnect", "恢复供电", "Reconnect", "meter_fitter",
            "已安排工作人员恢复供电", "Staff are restoring your supply",
            limit_kind=CALENDAR_MINUTES, limit_value=1380, priority=ESSENTIAL,
            fields=(
                datetime("reconnected_at", "复电时间", "Reconnected at"),
                decimal("reading", "复电示数", "Reading at reconnection", min=0),
            ),
        ),
        follow_up_step(limit_value=1440, limit_kind=CALENDAR_MINUTES),
    ]
    return process_spec(
        business_type=BusinessType.RECONNECTION, name="欠费复电", steps=steps,
        transitions=tuple(chain("confirm_payment", "reconnect", "follow_up")),
        commitment_kind=CALENDAR_MINUTES, commitment_value=1440, requires_account=True,
    )


SEED_DEFINITIONS: dict[str, ProcessSpec] = {
    spec.business_type: spec
    for spec in (
        _lv_connection(business_type=BusinessType.LV_RESIDENTIAL_CONNECTION, name="低压居民新装", commitment=5,
                       contract=False),
        _lv_connection(business_type=BusinessType.LV_NON_RESIDENTIAL_CONNECTION, name="低压非居民新装",
                       commitment=6, contract=True),
        _hv_like(
            business_type=BusinessType.HV_CONNECTION, name="高压新装", requires_account=False,
            accept_fields=(
                text("applicant_name", "申请单位", "Applicant", max_length=100),
                text("supply_address", "用电地址", "Supply address", max_length=200),
                decimal("requested_capacity_kva", "申请容量（千伏安）", "Requested capacity (kVA)", min=1),
                choice("voltage_level", "供电电压", "Supply voltage", [["10kv", "10千伏"], ["35kv", "35千伏"]]),
            ),
            accept_checks=(),
        ),
        _hv_like(
            business_type=BusinessType.CAPACITY_INCREASE, name="增容", requires_account=True,
            accept_fields=(decimal("new_capacity_kva", "增容后容量（千伏安）", "Capacity after increase (kVA)", min=1),),
            accept_checks=("capacity_above_current",),
        ),
        _capacity_reduction(),
        _suspension(),
        _resumption(),
        _name_change(),
        _transfer(),
        _tariff_class_change(),
        _account_closure(),
        _fault_repair(),
        _complaint(),
        _report(),
        _appeal(business_type=BusinessType.OPINION, name="意见", commitment=10),
        _appeal(business_type=BusinessType.SUGGESTION, name="建议", commitment=10),
        _praise(),
        _service_request(business_type=BusinessType.SERVICE_APPLICATION, name="服务申请", commitment=5,
                         handle_name="办理服务申请", handle_name_en="Handle the request"),
        _service_request(business_type=BusinessType.CONSULTATION, name="咨询升级", commitment=3,
                         handle_name="专业答复", handle_name_en="Expert answer"),
        _meter_accuracy_check(),
        _arrears_disconnection(),
        _reconnection(),
    )
}
