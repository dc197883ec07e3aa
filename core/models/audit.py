"""Who looked at a customer's personal data, what and when: staff see it masked until they open it, and opening it
leaves a row here that auditors can read."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .customers import Account, Customer


class PersonalDataAccess(models.Model):
    """One opening of a customer's personal data by a member of staff."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="personal_data_accesses",
        verbose_name=_("查看人"),
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="personal_data_accesses", verbose_name=_("客户")
    )
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("户号")
    )
    # What was shown, e.g. "phone", "id_number", "address", "name".
    fields = models.JSONField(_("查看内容"), default=list)
    # Where and why: "call:<id>" from a screen-pop, "ticket:<id>", "console".
    context = models.CharField(_("场景"), max_length=80)
    at = models.DateTimeField(_("时间"), db_index=True)

    class Meta:
        verbose_name = _("个人信息查看记录")
        verbose_name_plural = _("个人信息查看记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "at"], name="pda_customer_at_idx")]
