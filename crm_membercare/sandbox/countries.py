"""MemberCare's country reference list as the sandbox serves it (`GET /addresses/countries`).

MemberCare numbers countries itself; its ids are not ISO codes (Norge is 160). The sync never reads this
module: it learns the ids from the API, as it must with the real system. The seed data and the sandbox do.
"""

from __future__ import annotations

# (MemberCare id, Norwegian name, ISO 3166-1 alpha-2)
COUNTRIES: tuple[tuple[int, str, str], ...] = (
    (1, "Afghanistan", "AF"),
    (6, "Argentina", "AR"),
    (9, "Australia", "AU"),
    (12, "Belgia", "BE"),
    (19, "Brasil", "BR"),
    (24, "Canada", "CA"),
    (28, "Chile", "CL"),
    (31, "Danmark", "DK"),
    (36, "Estland", "EE"),
    (40, "Finland", "FI"),
    (41, "Frankrike", "FR"),
    (52, "Hellas", "GR"),
    (60, "India", "IN"),
    (63, "Irland", "IE"),
    (64, "Island", "IS"),
    (66, "Italia", "IT"),
    (68, "Japan", "JP"),
    (79, "Kina", "CN"),
    (91, "Latvia", "LV"),
    (97, "Litauen", "LT"),
    (99, "Luxembourg", "LU"),
    (118, "Mexico", "MX"),
    (142, "Nederland", "NL"),
    (160, "Norge", "NO"),
    (170, "Polen", "PL"),
    (171, "Portugal", "PT"),
    (185, "Russland", "RU"),
    (199, "Spania", "ES"),
    (200, "Storbritannia", "GB"),
    (205, "Sveits", "CH"),
    (206, "Sverige", "SE"),
    (211, "Sør-Afrika", "ZA"),
    (218, "Thailand", "TH"),
    (223, "Tsjekkia", "CZ"),
    (228, "Tyskland", "DE"),
    (232, "Ukraina", "UA"),
    (233, "Ungarn", "HU"),
    (238, "USA", "US"),
    (249, "Østerrike", "AT"),
    (250, "Færøyene", "FO"),
)

COUNTRY_ID_BY_ISO2 = {iso2: country_id for country_id, _, iso2 in COUNTRIES}
ISO2_BY_COUNTRY_ID = {country_id: iso2 for country_id, _, iso2 in COUNTRIES}
