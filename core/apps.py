from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_after_migrate(sender, app_config=None, using="default", apps=None, **kwargs) -> None:
    """Keep the role groups in step with core.services.roles after every migrate of core, then seed the
    process definitions of business types that have none (they need the posts roles_sync makes).

    Permissions of apps later in INSTALLED_APPS may not exist yet when core's post_migrate runs, so they
    are created first; after `migrate core zero` the tables are gone and there is nothing to sync, and
    before the ticket migration there are no process definitions to seed.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    if apps is not None:
        try:
            apps.get_model("core", "Post")
        except LookupError:
            return
    for config in global_apps.get_app_configs():
        create_permissions(config, verbosity=0, using=using)

    from core.services.roles import roles_sync

    roles_sync()

    if apps is not None:
        try:
            apps.get_model("core", "ProcessDefinition")
        except LookupError:
            return
    from core.services.process_definitions import process_definitions_sync

    process_definitions_sync()


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("营销业务")

    def ready(self) -> None:
        post_migrate.connect(_sync_after_migrate, sender=self, dispatch_uid="core.roles_sync")
