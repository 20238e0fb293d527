"""A small hand-built network for the map and page tests (plain SQL on the test's connection).

Province 990000 "测试省" (lon 120–122, lat 30–31.5) with two cities, a distributor in each,
wholesalers and retail outlets below them, an outlet whose name is an XSS probe, one with every
character that could break a script, a product, sales with debt, and geotag history.
"""

from __future__ import annotations

import json
import re

XSS_NAME = "<img src=x onerror=alert(1)>"
ODD_NAME = "奇`${alert(2)}`</script><script>alert(3)</script>\"'\\\u2028{{7*7}}店"

PROVINCE = "990000"
CITY_A = "990100"
CITY_B = "990200"


def overlay_names(page: str) -> list[str]:
    """The overlay names of a map page's layer control (Jinja's tojson escapes non-ASCII)."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\},", page, re.S).group(1)
    return [json.loads(k) for k in re.findall(r'("(?:[^"\\]|\\.)*")\s*:', block)]


def build_network(sql, *, extra_retail: int = 0) -> dict:
    """Insert the fixture network; returns codes worth asserting on."""
    sql("""INSERT INTO regions (code, name, name_en, level, boundary) VALUES
           ('990000', '测试省', 'Test Province', 'province',
            ST_Multi(ST_MakeEnvelope(120, 30, 122, 31.5, 4326)))""")
    sql("""INSERT INTO regions (code, name, name_en, level, parent_id, boundary)
           SELECT c.code, c.name, c.name_en, 'city', p.id,
                  ST_Multi(ST_MakeEnvelope(c.x0, 30, c.x1, 31.5, 4326))
             FROM (VALUES ('990100', '甲市', 'Jia City', 120.0, 121.0),
                          ('990200', '乙<b>市', 'Yi City', 121.0, 122.0))
                  AS c(code, name, name_en, x0, x1)
             JOIN regions p ON p.code = '990000'""")
    rows = [
        # code, name, tier, parent, lon, lat
        ("TD1", "甲总经销", "distributor", None, 120.50, 30.70),
        ("TD2", "乙总经销", "distributor", None, 121.50, 30.80),
        ("TW1", "甲二批", "wholesaler_2", "TD1", 120.40, 30.60),
        ("TW2", "乙二批", "wholesaler_2", "TD2", 121.60, 30.90),
        ("TW3", "甲三批", "wholesaler_3", "TW1", 120.30, 30.50),
        ("TR1", XSS_NAME, "retail", "TW3", 120.31, 30.52),
        ("TR2", ODD_NAME, "retail", "TW1", 120.45, 30.65),
        ("TR3", "乙零售", "retail", "TW2", 121.70, 31.00),
        ("TR4", "未定位零售", "retail", "TW2", None, None),
    ]
    for code, name, tier, parent, lon, lat in rows:
        sql(
            """INSERT INTO outlets (code, name, tier, parent_id, location, address)
               VALUES (:code, :name, :tier, (SELECT id FROM outlets WHERE code = :parent),
                       CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                            ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END, :address)""",
            code=code,
            name=name,
            tier=tier,
            parent=parent,
            lon=lon,
            lat=lat,
            address=f"{name} 地址",
        )
    if extra_retail:
        sql(
            """INSERT INTO outlets (code, name, tier, parent_id, location)
               SELECT 'XR' || g, '零售' || g, 'retail', (SELECT id FROM outlets WHERE code = 'TW1'),
                      ST_SetSRID(ST_MakePoint(120.05 + (g % 97) * 0.019,
                                              30.05 + (g % 89) * 0.016), 4326)
                 FROM generate_series(1, :n) AS g""",
            n=extra_retail,
        )
    sql("INSERT INTO products (sku, name, unit) VALUES ('TP1', '测试水', '箱')")
    sales = [
        ("TW3", "TR1", "2026-01-10", 100, 60),
        ("TW1", "TR2", "2026-02-10", 50, 50),
        ("TD1", "TW1", "2026-02-01", 1000, 700),
        ("TW2", "TR3", "2026-03-01", 80, 0),
    ]
    for seller, buyer, day, amount, paid in sales:
        sql(
            """INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity,
                                          amount, amount_paid)
               VALUES ((SELECT id FROM outlets WHERE code = :s),
                       (SELECT id FROM outlets WHERE code = :b),
                       CAST(:d AS date), (SELECT id FROM products WHERE sku = 'TP1'), 1, :a, :p)""",
            s=seller,
            b=buyer,
            d=day,
            a=amount,
            p=paid,
        )
    for lon, lat, day in ((120.29, 30.49, "2025-06-01"), (120.31, 30.52, "2026-01-05")):
        sql(
            """INSERT INTO geotag_events (outlet_id, new_location, accuracy_m, source, created_at)
               VALUES ((SELECT id FROM outlets WHERE code = 'TR1'),
                       ST_SetSRID(ST_MakePoint(:x, :y), 4326),
                       12, 'gps', CAST(:d AS timestamptz))""",
            x=lon,
            y=lat,
            d=day,
        )
    return {"province": PROVINCE, "cities": [CITY_A, CITY_B], "located": 8 + extra_retail}


def test_fixture_network_lands_in_its_regions(sql):
    build_network(sql)
    by_region = dict(
        sql("""SELECT o.code, r.code FROM outlets o LEFT JOIN regions r ON r.id = o.region_id
                             WHERE o.code LIKE 'T%'""").all()
    )
    assert by_region["TD1"] == CITY_A and by_region["TD2"] == CITY_B and by_region["TR4"] is None
