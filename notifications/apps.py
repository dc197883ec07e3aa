from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("消息通知")

    def ready(self):
        from core.signals import customer_alerts_raised, outage_changed, ticket_changed

        from .customer_alerts import customer_alerts_raised_receive
        from .outage_alerts import outage_changed_notify
        from .ticket_alerts import ticket_changed_notify

        ticket_changed.connect(ticket_changed_notify, dispatch_uid="notifications.ticket_alerts")
        outage_changed.connect(outage_changed_notify, dispatch_uid="notifications.outage_alerts")
        customer_alerts_raised.connect(customer_alerts_raised_receive, dispatch_uid="notifications.customer_alerts")
        # Callers' SMS (payment links, agents' messages, restoration callbacks): caller_sms.py connects its own.
        import_module("notifications.caller_sms")
