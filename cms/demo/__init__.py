"""The demo website built by seed_demo: sections, policies, tariffs, news, outage notices, knowledge base, outlets,
surveys and English translations of the key pages (cms.demo.build)."""
import logging

from django.utils.translation import gettext as _

from core.signals import demo_data_seeded


def _demo_site_build(sender, stdout=None, **kwargs) -> None:
    """The demo's website, once the demo's organisation, topology and customers exist."""
    from cms.demo.build import demo_site_build

    # Wagtail logs an audit line per page created and published; seventy of them drown the seed's progress.
    wagtail_log = logging.getLogger("wagtail")
    level = wagtail_log.level
    wagtail_log.setLevel(logging.WARNING)
    try:
        result = demo_site_build(out=stdout.write if stdout is not None else None)
    finally:
        wagtail_log.setLevel(level)
    if stdout is not None:
        stdout.write(
            _("网站演示内容：新建 %(created)s 个页面，已有 %(found)s 个，%(outages)s 个停电公告已发布到停电信息，用时 %(s).1f 秒")
            % {"created": result.pages_created, "found": result.pages_found,
               "outages": result.notices_with_outage, "s": result.seconds}
        )
        for title in result.refused:
            stdout.write(_("  未能发布：%(title)s") % {"title": title})


def connect_signals() -> None:
    demo_data_seeded.connect(_demo_site_build, dispatch_uid="cms.demo_site_build")
