from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = _("网站内容")

    def ready(self) -> None:
        from core.signals import demo_data_seeded

        demo_data_seeded.connect(_demo_site_ensure, dispatch_uid="cms.demo_site_ensure")


def _demo_site_ensure(sender, **kwargs) -> None:
    """The demo's website: make the 95598 home page the site root once the demo data is seeded."""
    from cms.services import cms_site_ensure

    cms_site_ensure()
