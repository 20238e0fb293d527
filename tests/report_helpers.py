"""A small province for the report tests; the fixture ``report_world`` is in report_fixtures.

Province RP (120–121°E, 30–31°N, ~9,600 km²) with three cities: RC1 and RC2 hold the network,
RC3 is white space and carries a hostile name (markup, TeX dollars, a path). Two distributors
with wholesalers and retail outlets, one product, sales and plans in 2025. Users: admin,
manager m_in (RC1 only: RP is outside their scope), manager m_all (RP) and a rep.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

HOSTILE = "<img src=x onerror=alert(1)> $x^2$ ../../etc 市"
FORMULA = '=HYPERLINK("http://x","西城总经销")'
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


def _region(conn, code, level, box, parent=None, name=None, name_en=None):
    conn.execute(
        text(
            "INSERT INTO regions (code, name, name_en, level, parent_id, boundary) VALUES "
            "(:c, :n, :ne, :l, (SELECT id FROM regions WHERE code = :p), "
            "ST_Multi(ST_Segmentize(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326), 0.02)))"
        ),
        dict(
            c=code, n=name or f"区域{code}", ne=name_en, l=level, p=parent,
            x0=box[0], y0=box[1], x1=box[2], y1=box[3],
        ),
    )  # fmt: skip


def _outlet(conn, code, tier, lon, lat, parent=None, name=None):
    conn.execute(
        text(
            "INSERT INTO outlets (code, name, tier, parent_id, location) VALUES (:c, :n, :t, "
            "(SELECT id FROM outlets WHERE code = :p), ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
        ),
        dict(c=code, n=name or f"网点{code}", t=tier, p=parent, x=lon, y=lat),
    )


def _sale(conn, seller, buyer, day, quantity, amount, paid=None):
    conn.execute(
        text(
            "INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, quantity, "
            "amount, amount_paid) VALUES ((SELECT id FROM outlets WHERE code = :s), "
            "(SELECT id FROM outlets WHERE code = :b), :d, "
            "(SELECT id FROM products WHERE sku = 'SKU1'), :q, :a, :paid)"
        ),
        dict(s=seller, b=buyer, d=day, q=quantity, a=amount, paid=amount if paid is None else paid),
    )


def build_world(conn) -> dict:
    """Insert the fixture on ``conn`` (the caller commits or rolls back); returns user ids."""
    from auth_helpers import add_user

    _region(conn, "RP", "province", (120, 30, 121, 31), name="测试省", name_en="Test Province")
    _region(conn, "RC1", "city", (120, 30, 120.5, 31), "RP", "东城市", "East City")
    _region(conn, "RC2", "city", (120.5, 30.5, 121, 31), "RP", "西城市", "West City")
    _region(conn, "RC3", "city", (120.5, 30, 121, 30.5), "RP", HOSTILE, HOSTILE)
    _region(conn, "RQ", "province", (122, 30, 123, 31), name="他省")
    conn.execute(text("INSERT INTO products (sku, name, unit) VALUES ('SKU1', '清香型白酒', '箱')"))
    _outlet(conn, "D1", "distributor", 120.25, 30.5, name="华东总经销 <b>粗体</b>")
    _outlet(conn, "D2", "distributor", 120.75, 30.75, name=FORMULA)
    _outlet(conn, "W21", "wholesaler_2", 120.2, 30.4, "D1")
    _outlet(conn, "W22", "wholesaler_2", 120.8, 30.8, "D2")
    _outlet(conn, "W31", "wholesaler_3", 120.3, 30.6, "W21")
    for i in range(12):
        lon, lat = 120.05 + 0.035 * i, 30.2 + 0.05 * (i % 5)
        _outlet(conn, f"R1{i:02d}", "retail", lon, lat, "W31" if i % 2 else "W21")
    for i in range(6):
        _outlet(conn, f"R2{i:02d}", "retail", 120.6 + 0.06 * i, 30.6 + 0.04 * i, "W22")
    _outlet(conn, "RX", "retail", 122.5, 30.5)  # in the other province
    conn.execute(
        text(
            "INSERT INTO sales_plans (distributor_id, month, product_id, target_quantity, "
            "target_amount) SELECT o.id, make_date(2025, m, 1), "
            "(SELECT id FROM products WHERE sku = 'SKU1'), 100, 10000 "
            "FROM outlets o, generate_series(1, 12) m WHERE o.code IN ('D1', 'D2')"
        )
    )
    for i in range(12):
        day = dt.date(2025, 1 + i % 12, 10)
        _sale(conn, "D1", "W21", day, 50, 6000 + 100 * i, paid=5000)
        _sale(conn, "W21", f"R1{i:02d}", day, 5, 700 + 10 * i)
    for i in range(6):
        _sale(conn, "D2", "W22", dt.date(2025, 2 + i, 5), 80, 12000)
        _sale(conn, "W22", f"R2{i:02d}", dt.date(2025, 2 + i, 6), 8, 1000 + 50 * i)
    return {
        "admin": add_user(conn, "radmin", "admin"),
        "m_in": add_user(conn, "rmanager_c1", "manager", regions=("RC1",)),
        "m_all": add_user(conn, "rmanager_p", "manager", regions=("RP",)),
        "rep": add_user(conn, "rrep", "rep"),
    }
