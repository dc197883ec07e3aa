from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Modules whose connect_signals() subscribes them to Wagtail's and core's signals:
# outage notices -> core outages, publishing -> page-cache invalidation, seed_demo -> the demo site.
SIGNAL_MODULES = ("cms.outage_publishing", "cms.cache", "cms.demo")


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = _("网站内容")

    def ready(self) -> None:
        for name in SIGNAL_MODULES:
            import_module(name).connect_signals()
