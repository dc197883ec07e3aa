"""English translations of the demo's key pages (Wagtail translations of the Chinese pages, found by the Chinese
page's slug path under the home page; "" is the home page itself)."""
from __future__ import annotations

from .blocks import call_to_action, chart, faq, heading, paragraph, table

TRANSLATIONS: list[tuple[str, dict]] = [
    ("", {
        "title": "State Grid 95598 Power Supply Service",
        "intro": "<p>Bills, payments, applications, fault reports, complaints and suggestions: call the 95598 "
                 "hotline, 24 hours a day, 7 days a week.</p>",
    }),
    ("about", {
        "title": "About us",
        "intro": "Enshi Power Supply Company: who we are, what we promise and how the grid is growing.",
    }),
    ("about/company-profile", {
        "title": "Company profile",
        "intro": "Serving about 1.7 million customers in eight counties and cities.",
        "body": [
            heading("Who we are"),
            paragraph(
                "<p>Enshi Power Supply Company builds, runs and serves the grid of the Enshi Tujia and Miao "
                "Autonomous Prefecture: eight county companies (Enshi, Lichuan, Jianshi, Badong, Xuan'en, Xianfeng, "
                "Laifeng and Hefeng) and more than forty township service stations.</p>"
                "<p>Lines here cross forests and deep gorges, so rural grid upgrades and reliable supply in the "
                "mountains come first.</p>"
            ),
            chart(
                "Electricity sold in the prefecture (100 GWh)",
                [("2020", "52.6"), ("2021", "57.3"), ("2022", "60.1"), ("2023", "63.8"), ("2024", "67.2")],
                kind="line",
                unit="100 GWh",
            ),
            table(
                [
                    ["Item", "Count", "Note"],
                    ["220 kV substations", "12", "all eight counties"],
                    ["110 kV substations", "41", "two supplies for every county town"],
                    ["35 kV substations", "96", "every township"],
                    ["10 kV feeders", "1,120", "about 26,000 km"],
                ],
                caption="End of 2024 (demo figures)",
            ),
            call_to_action("Questions about a bill, an application or a fault? Call 95598.", "Call 95598",
                           url="tel:95598"),
        ],
    }),
    ("service-guide", {
        "title": "Service guide",
        "intro": "How to apply for a connection, pay your bill and change your account: steps, papers and times.",
    }),
    ("service-guide/new-connection", {
        "title": "A new household connection",
        "intro": "Bring your ID card and proof of the home; we accept the application on the spot.",
        "body": [
            heading("A new low-voltage household connection"),
            paragraph(
                "<p>Bring your ID card and proof of ownership (title deed, purchase contract or the village "
                "committee's homestead certificate) to any business hall, or apply in the 网上国网 app. The meter "
                "is installed within 5 working days in town and 7 in the countryside, free of charge.</p>"
            ),
            table(
                [
                    ["Step", "What you do", "Time"],
                    ["Application", "Show your ID and proof of the home", "on the spot"],
                    ["Site visit", "Be at home at the agreed time", "1 working day"],
                    ["Meter installed", "Confirm the meter position, sign the supply contract", "3 working days"],
                ]
            ),
            faq(
                "Questions",
                [
                    ("Is there a fee?", "<p>No. The meter and the line up to it are the company's.</p>"),
                    ("Can a tenant have a meter?", "<p>Yes, with the owner's written consent.</p>"),
                ],
            ),
        ],
    }),
    ("tariffs", {
        "title": "Electricity tariffs",
        "intro": "The tariffs in force today, straight from the billing catalogue, and a bill calculator.",
        "body": [
            paragraph(
                "<p>Residential customers pay a monthly three-tier tariff; time-of-use customers pay peak and "
                "valley prices plus the tier surcharge. Enter your monthly kWh below to see how a bill is made "
                "up.</p>"
            ),
        ],
    }),
    ("outages", {
        "title": "Planned outages",
        "intro": "Planned outages are announced 7 days ahead, temporary maintenance 24 hours ahead. Search by "
                 "county, street or account number.",
    }),
    # Street and village names stay as written in Chinese: they are what people read on the signs.
    ("outages/planned-feeder-maintenance", {
        "title": "Planned outage: maintenance of a 10 kV feeder in Badong county",
        "reason": "10 kV line maintenance and tree clearing",
    }),
]
