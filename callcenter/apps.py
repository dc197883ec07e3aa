from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallcenterConfig(AppConfig):
    name = "callcenter"
    verbose_name = _("呼叫中心")

    def ready(self) -> None:
        # Screen-pops and live queue state follow core's call signals (sent after commit); each module connects
        # its own receivers with @receiver.
        for module in ("callcenter.console.receivers", "callcenter.wallboard.receivers"):
            import_module(module)
