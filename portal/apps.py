from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("客户自助服务")

    def ready(self) -> None:
        from config.auth import connect_signals as user_cache_connect
        from portal.dashboard.cache import connect_signals as dashboard_cache_connect
        from portal.requests.receivers import receivers_connect

        # Everyone who reported a fault is told when power is back (outage restored or restore step submitted).
        receivers_connect()
        # A tariff or collection-policy change makes every kept dashboard panel stale at once.
        dashboard_cache_connect()
        # A saved or deleted user is read afresh by the next request (config/auth.py).
        user_cache_connect()
