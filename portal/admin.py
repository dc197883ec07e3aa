"""The staff refund of an online payment: an admin action on OnlinePayment, here (autodiscovered) because it
calls Stripe through the portal's adapter and core imports no channel.

The refund (all of the payment not yet refunded: the whole, or the rest after a partial refund made in Stripe's
dashboard) is made at Stripe and reversed in the ledger at once, idempotently (core.services.online_payments
.online_payment_refund); the charge.refunded webhook that follows finds it done. Only staff holding
core.change_onlinepayment may refund (the rest of the admin stays read-only).
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from core.admin import OnlinePaymentAdmin
from core.errors import OnlinePaymentError
from core.models import OnlinePayment
from core.services.online_payments import online_payment_refund
# The admin is an entry point, like a view: it hands the provider's adapter to the core service.
from portal.payments.stripe_gateway import StripeGateway


@admin.action(description=_("退款：退还尚未退的全部金额（在支付渠道退款并在账务中冲正）"), permissions=["refund"])
def online_payments_refund(modeladmin, request, queryset) -> None:
    gateway = StripeGateway.from_settings()
    for online_payment in queryset.select_related("account", "payment").order_by("pk"):
        try:
            online_payment_refund(
                online_payment=online_payment, user=request.user, reason=str(_("工作人员在后台退款")), gateway=gateway
            )
        except OnlinePaymentError as refusal:
            modeladmin.message_user(request, f"{online_payment.provider_reference}: {refusal.message}", messages.ERROR)
        else:
            modeladmin.message_user(
                request, _("%(reference)s 已退款并冲正") % {"reference": online_payment.provider_reference}, messages.SUCCESS
            )


class OnlinePaymentRefundAdmin(OnlinePaymentAdmin):
    actions = [online_payments_refund]

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm("core.change_onlinepayment")


admin.site.unregister(OnlinePayment)
admin.site.register(OnlinePayment, OnlinePaymentRefundAdmin)
