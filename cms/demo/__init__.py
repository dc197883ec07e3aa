"""The demo website built by seed_demo (owner: seed helper)."""
from core.signals import demo_data_seeded


def _demo_site_build(sender, **kwargs) -> None:
    """The demo's website: make the 95598 home page the site root once the demo data is seeded."""
    from cms.services import cms_site_ensure

    cms_site_ensure()


def connect_signals() -> None:
    demo_data_seeded.connect(_demo_site_build, dispatch_uid="cms.demo_site_build")
