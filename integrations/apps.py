from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """The one door other systems use (source plan: no system reads another's database): the /api/v1/ REST API
    with per-system keys and scopes, and the file exchanges' management commands. Entry points only: every rule
    they apply lives in core services."""

    name = "integrations"
    verbose_name = _("系统接口")
    default_auto_field = "django.db.models.BigAutoField"
