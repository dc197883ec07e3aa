from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("客户自助服务")

    def ready(self) -> None:
        # Everyone who reported a fault is told when power is back (outage restored or restore step submitted).
        from portal.requests.receivers import receivers_connect

        receivers_connect()
