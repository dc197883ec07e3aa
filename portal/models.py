"""Portal identity data that allauth does not keep itself: a user's mobile number (login by SMS code)."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserPhone(models.Model):
    """The mobile number a portal user signs in with; unique, so one phone is one login."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone", verbose_name=_("用户")
    )
    phone = models.CharField(_("手机号码"), max_length=20, unique=True)
    verified_at = models.DateTimeField(_("验证时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("手机号码")
        verbose_name_plural = _("手机号码")

    def __str__(self) -> str:
        return self.phone
