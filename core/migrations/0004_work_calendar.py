"""The working-day calendar: public holidays and make-up working days (调休) of the State Council's yearly
notices (国务院办公厅关于部分节假日安排的通知), 2024-2027.

Only exceptions to Monday-Friday are stored (see WorkCalendarDay): a holiday that falls on a weekday becomes a
day off, a weekend day worked in exchange (调休上班) becomes a working day. Holidays are written as the notices
write them, a first and last day "放假调休，共N天"; the weekend days inside a range need no row.
Editable in the admin afterwards (a later notice, a local change); this migration only loads what it knows.
"""
import datetime

from django.db import migrations

D = datetime.date

# (name, first day off, last day off, [make-up working days]).
HOLIDAYS = [
    # 国办发明电〔2023〕7号 (2024).
    ("元旦", D(2023, 12, 30), D(2024, 1, 1), []),
    ("春节", D(2024, 2, 10), D(2024, 2, 17), [D(2024, 2, 4), D(2024, 2, 18)]),
    ("清明节", D(2024, 4, 4), D(2024, 4, 6), [D(2024, 4, 7)]),
    ("劳动节", D(2024, 5, 1), D(2024, 5, 5), [D(2024, 4, 28), D(2024, 5, 11)]),
    ("端午节", D(2024, 6, 8), D(2024, 6, 10), []),
    ("中秋节", D(2024, 9, 15), D(2024, 9, 17), [D(2024, 9, 14)]),
    ("国庆节", D(2024, 10, 1), D(2024, 10, 7), [D(2024, 9, 29), D(2024, 10, 12)]),
    # 国办发明电〔2024〕12号 (2025): the first year with New Year's Eve (除夕) and 2 May as statutory holidays.
    ("元旦", D(2025, 1, 1), D(2025, 1, 1), []),
    ("春节", D(2025, 1, 28), D(2025, 2, 4), [D(2025, 1, 26), D(2025, 2, 8)]),
    ("清明节", D(2025, 4, 4), D(2025, 4, 6), []),
    ("劳动节", D(2025, 5, 1), D(2025, 5, 5), [D(2025, 4, 27)]),
    ("端午节", D(2025, 5, 31), D(2025, 6, 2), []),
    ("国庆节、中秋节", D(2025, 10, 1), D(2025, 10, 8), [D(2025, 9, 28), D(2025, 10, 11)]),
    # 国办发明电〔2025〕7号 (2026).
    ("元旦", D(2026, 1, 1), D(2026, 1, 3), [D(2026, 1, 4)]),
    ("春节", D(2026, 2, 15), D(2026, 2, 23), [D(2026, 2, 14), D(2026, 2, 28)]),
    ("清明节", D(2026, 4, 4), D(2026, 4, 6), []),
    ("劳动节", D(2026, 5, 1), D(2026, 5, 5), [D(2026, 5, 9)]),
    ("端午节", D(2026, 6, 19), D(2026, 6, 21), []),
    ("中秋节", D(2026, 9, 25), D(2026, 9, 27), []),
    ("国庆节", D(2026, 10, 1), D(2026, 10, 7), [D(2026, 9, 20), D(2026, 10, 10)]),
    # 2027: no notice was published when this was written. These dates follow the rules the notices apply
    # (春节 8 days from New Year's Eve, 劳动节 5 days from 1 May, 国庆节 7 days from 1 October, the others
    # joined to the weekend or a single weekday off mid-week, make-up days on the nearest weekends, at most
    # six working days in a row) and 2021, whose calendar 2027 repeats for 元旦, 劳动节 and 国庆节.
    # Correct them in the admin (工作日历) when the State Council publishes the 2027 notice.
    ("元旦", D(2027, 1, 1), D(2027, 1, 3), []),
    ("春节", D(2027, 2, 5), D(2027, 2, 12), [D(2027, 1, 31), D(2027, 2, 20)]),
    ("清明节", D(2027, 4, 3), D(2027, 4, 5), []),
    ("劳动节", D(2027, 5, 1), D(2027, 5, 5), [D(2027, 5, 8)]),
    ("端午节", D(2027, 6, 9), D(2027, 6, 9), []),
    ("中秋节", D(2027, 9, 15), D(2027, 9, 15), []),
    ("国庆节", D(2027, 10, 1), D(2027, 10, 7), [D(2027, 9, 26), D(2027, 10, 9)]),
]


def calendar_rows() -> dict[datetime.date, tuple[bool, str]]:
    """{date: (is_workday, name)} for every weekday holiday and weekend make-up day above."""
    rows: dict[datetime.date, tuple[bool, str]] = {}
    for name, first, last, make_up_days in HOLIDAYS:
        day = first
        while day <= last:
            if day.weekday() < 5:
                rows[day] = (False, name)
            day += datetime.timedelta(days=1)
        for make_up in make_up_days:
            if make_up.weekday() < 5:
                raise ValueError(f"make-up working day {make_up} is not a weekend day")
            rows[make_up] = (True, f"{name}调休上班")
    return rows


def calendar_load(apps, schema_editor):
    WorkCalendarDay = apps.get_model("core", "WorkCalendarDay")
    for day, (is_workday, name) in sorted(calendar_rows().items()):
        WorkCalendarDay.objects.update_or_create(date=day, defaults={"is_workday": is_workday, "name": name})


def calendar_unload(apps, schema_editor):
    WorkCalendarDay = apps.get_model("core", "WorkCalendarDay")
    WorkCalendarDay.objects.filter(date__in=list(calendar_rows())).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_tickets"),
    ]

    operations = [
        migrations.RunPython(calendar_load, calendar_unload),
    ]
