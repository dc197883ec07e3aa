"""Reads of the tariff catalogue."""
from __future__ import annotations

import datetime

from django.utils.translation import gettext_lazy as _

from core.errors import TariffNotFound
from core.models import Tariff, TariffVersion


def tariff_version_for(*, tariff: Tariff, on_date: datetime.date) -> TariffVersion:
    """The version in force on a date: the latest one whose effective_from is on or before it."""
    version = (
        TariffVersion.objects.filter(tariff=tariff, effective_from__lte=on_date).order_by("-effective_from").first()
    )
    if version is None:
        raise TariffNotFound(
            _("电价“%(tariff)s”在%(date)s没有生效的版本") % {"tariff": tariff.name, "date": on_date.isoformat()}
        )
    return version
