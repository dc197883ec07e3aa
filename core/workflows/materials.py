"""The papers each application needs (申请材料), as the portal asks for them.

Applications are accepted on one paper (一证受理): what `needed_now` marks must be uploaded before the application is
submitted, usually the applicant's proof of identity (or, for a business, its licence); the rest may follow, uploaded
later or collected by staff at the site survey or the counter, and the wizard says so. A type with no list here
needs no papers up front (a meter check on an account already bound). "Other" is always offered for anything extra.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.models import BusinessType


@dataclass(frozen=True)
class Material:
    code: str
    label: str | Promise
    needed_now: bool


IDENTITY = Material("identity", _("申请人有效身份证明（身份证等）"), True)
HOLDER_IDENTITY = Material("holder_identity", _("户主或经办人有效身份证明"), True)
BUSINESS_LICENCE = Material("business_licence", _("营业执照或组织机构证明"), True)
AGENT_AUTHORISATION = Material("agent_authorisation", _("经办人身份证明及授权委托书"), False)
PROPERTY_PROOF = Material("property_proof", _("用电地址产权证明（不动产权证、购房合同等）"), False)
PROJECT_APPROVAL = Material("project_approval", _("项目批复、核准或备案文件"), False)
LOAD_LIST = Material("load_list", _("用电设备清单"), False)
NAME_CHANGE_BASIS = Material("name_change_basis", _("更名依据（如工商变更登记、户口簿）"), False)
NEW_HOLDER_IDENTITY = Material("new_holder_identity", _("新户主有效身份证明"), True)
OWNERSHIP_CHANGE = Material("ownership_change", _("产权变更证明（新的不动产权证等）"), False)
USE_CHANGE_PROOF = Material("use_change_proof", _("用电性质变化的证明"), False)
OTHER = Material("other", _("其他材料"), False)

APPLICATION_MATERIALS: dict[str, tuple[Material, ...]] = {
    BusinessType.LV_RESIDENTIAL_CONNECTION: (IDENTITY, PROPERTY_PROOF),
    BusinessType.LV_NON_RESIDENTIAL_CONNECTION: (BUSINESS_LICENCE, AGENT_AUTHORISATION, PROPERTY_PROOF),
    BusinessType.HV_CONNECTION: (BUSINESS_LICENCE, AGENT_AUTHORISATION, PROPERTY_PROOF, PROJECT_APPROVAL, LOAD_LIST),
    BusinessType.CAPACITY_INCREASE: (HOLDER_IDENTITY, LOAD_LIST),
    BusinessType.CAPACITY_REDUCTION: (HOLDER_IDENTITY,),
    BusinessType.SUSPENSION: (HOLDER_IDENTITY,),
    BusinessType.RESUMPTION: (HOLDER_IDENTITY,),
    BusinessType.NAME_CHANGE: (HOLDER_IDENTITY, NAME_CHANGE_BASIS),
    BusinessType.TRANSFER: (NEW_HOLDER_IDENTITY, OWNERSHIP_CHANGE),
    BusinessType.TARIFF_CLASS_CHANGE: (HOLDER_IDENTITY, USE_CHANGE_PROOF),
    BusinessType.ACCOUNT_CLOSURE: (HOLDER_IDENTITY,),
}


def application_materials(*, business_type: str) -> tuple[Material, ...]:
    """The papers the business type asks for, then "other"."""
    return (*APPLICATION_MATERIALS.get(business_type, ()), OTHER)


def application_material(*, business_type: str, code: str) -> Material | None:
    return next((m for m in application_materials(business_type=business_type) if m.code == code), None)


def materials_missing_now(*, business_type: str, codes_uploaded: set[str]) -> list[Material]:
    """The papers that must be uploaded before submitting and are not."""
    return [m for m in APPLICATION_MATERIALS.get(business_type, ()) if m.needed_now and m.code not in codes_uploaded]
