"""Organisation: company -> county branch -> service station; staff hold posts (岗位) in units."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Company(models.Model):
    """The prefecture power-supply company that runs this platform."""

    code = models.CharField(_("编码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=100)

    class Meta:
        verbose_name = _("供电公司")
        verbose_name_plural = _("供电公司")

    def __str__(self) -> str:
        return self.name


class Branch(models.Model):
    """A county branch (县供电公司); accounts, tickets and billing runs belong to one."""

    class AreaKind(models.TextChoices):
        CITY = "city", _("城市")
        RURAL = "rural", _("农村")
        REMOTE = "remote", _("边远地区")

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="branches", verbose_name=_("供电公司"))
    code = models.CharField(_("编码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    area_kind = models.CharField(_("区域类别"), max_length=8, choices=AreaKind.choices, default=AreaKind.CITY)

    class Meta:
        ordering = ["code"]
        verbose_name = _("县公司")
        verbose_name_plural = _("县公司")

    def __str__(self) -> str:
        return self.name


class ServiceStation(models.Model):
    """A service station (供电所) inside a county branch."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="stations", verbose_name=_("县公司"))
    code = models.CharField(_("编码"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    area_kind = models.CharField(
        _("区域类别"), max_length=8, choices=Branch.AreaKind.choices, default=Branch.AreaKind.CITY
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("供电所")
        verbose_name_plural = _("供电所")

    def __str__(self) -> str:
        return f"{self.branch.name} {self.name}"


class Post(models.Model):
    """A post (岗位): the unit of work assignment for ticket steps; tied to a role (group)."""

    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    group = models.ForeignKey(
        "auth.Group", on_delete=models.PROTECT, related_name="posts", verbose_name=_("角色"), null=True, blank=True
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")

    def __str__(self) -> str:
        return self.name


class StaffAssignment(models.Model):
    """A staff member holding a post in a branch (and optionally one service station)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("员工")
    )
    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("岗位"))
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("县公司"), null=True, blank=True
    )
    station = models.ForeignKey(
        ServiceStation,
        on_delete=models.PROTECT,
        related_name="assignments",
        verbose_name=_("供电所"),
        null=True,
        blank=True,
    )
    active = models.BooleanField(_("在岗"), default=True)

    class Meta:
        verbose_name = _("岗位分配")
        verbose_name_plural = _("岗位分配")
        constraints = [
            models.UniqueConstraint(fields=["user", "post", "branch", "station"], name="staff_assignment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.post}"
