"""A seeded, realistic demo network inside the region boundaries already loaded.

Distributors sit in city centres; wholesalers and retail outlets cluster around random
"towns" inside each city polygon, denser near a town's centre; every outlet buys from a
nearby outlet of a higher tier in its city. Products, monthly plans and sales down the tiers
(with some debt) complete the picture, so every map and report has something to show.

Everything is built as numpy arrays first (no ORM object per row) and written with COPY on
the caller's own connection and transaction; the database triggers still run for every row
(region assignment, tier order), so the demo obeys the same rules as real data.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.spatial import cKDTree
from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, text, true
from sqlalchemy.orm import Session

from ..domain.plans import acting_as
from ..domain.regions import REGIONS, region_tree
from ..errors import GeoCrmError, ValidationError
from ..models import TIERS, Outlet

LOGGER = logging.getLogger(__name__)

OUTLETS = Outlet.__table__

# share of the total per tier (distributor, wholesaler_2, wholesaler_3; the rest is retail)
TIER_SHARES = (0.01, 0.04, 0.10)
CODE_PREFIX = ("D", "W2", "W3", "R")
UNTAGGED_SHARE = 0.05
MIN_OUTLETS = 10

PRODUCTS = (  # sku, name, spec, list price per case in fen, popularity
    ("QQ-001", "清泉纯净水", "550ml×24", 2400, 0.22),
    ("QQ-002", "清泉天然矿泉水", "380ml×24", 3200, 0.12),
    ("QQ-003", "清泉绿茶", "500ml×15", 4500, 0.13),
    ("QQ-004", "清泉冰红茶", "500ml×15", 4500, 0.13),
    ("QQ-005", "清泉鲜橙多", "450ml×15", 5200, 0.09),
    ("QQ-006", "清泉乳酸菌饮品", "340ml×12", 5800, 0.08),
    ("QQ-007", "清泉八宝粥", "360g×12", 4800, 0.07),
    ("QQ-008", "清泉能量饮料", "250ml×24", 9600, 0.06),
    ("QQ-009", "清泉苏打水", "400ml×24", 6000, 0.05),
    ("QQ-010", "清泉核桃乳", "240ml×20", 7000, 0.05),
)
PRODUCT_UNIT = "箱"
# Spring Festival stocking in Jan/Feb, a summer peak for drinks
SEASON = np.array([1.30, 1.10, 0.80, 0.85, 0.95, 1.10, 1.25, 1.25, 1.05, 1.00, 0.80, 0.95])
# buyer tier -> purchases beyond the first (Poisson mean), median cases per delivery, price markup
PURCHASES = {1: 5.0, 2: 3.0, 3: 1.8}
MEDIAN_CASES = {1: 120.0, 2: 30.0, 3: 5.0}
MARKUP = {1: 1.00, 2: 1.06, 3: 1.12}

_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹"
    "孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱"
)
_GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅玉文辉鹏飞海燕志春德庆晓东林峰波斌宇浩凯"
)
_BRANDS = tuple(
    "鑫源 华联 顺发 永盛 福满 兴隆 金诚 恒通 百佳 家乐 万家 宏达 利民 惠民 佳佳 "
    "富源 聚福 吉祥 和顺 天天 东方 祥和 瑞丰 隆鑫 盛达 民生 红星 金盛 丰源 乐购 "
    "嘉和 同心 众兴 康乐 百信 新星".split()
)
_SHOP_WORDS = (
    ("商贸有限公司", "贸易有限公司", "食品有限公司", "供应链有限公司"),
    ("批发部", "商贸行", "食品批发部", "副食批发部"),
    ("商行", "批发部", "副食商行", "配送站"),
    ("超市", "便利店", "小卖部", "商店", "烟酒店", "副食店", "便民店", "百货店"),
)
_TOWN_A = list("东西南北新大小上下前后中高长永安太白黄青石龙马")
_TOWN_B = list("关城湖港桥庄集口坪店河山岗塘湾坝铺营寨")
_ROADS = tuple(
    "人民 解放 建设 中山 和平 新华 胜利 文化 朝阳 长江 黄河 幸福 团结 光明 工业 "
    "商业 振兴 迎宾".split()
)
_ROAD_KIND = ("路", "街", "大道", "巷")
_PHONE_PREFIX = np.array(
    [
        130,
        131,
        132,
        133,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        177,
        180,
        181,
        182,
        183,
        185,
        186,
        187,
        188,
        189,
        199,
    ]
)
_PLAN_NOTES = (
    "春节促销：买十送一",
    "陈列费支持 2000 元",
    "冰柜投放 3 台",
    "新品铺货奖励 5%",
    "旺季返利 2%",
    "堆头费用厂家承担",
)
_NAME_SUFFIXES = ("特别行政区", "自治州", "自治区", "地区", "市", "盟", "省")

NULL = "\\N"  # COPY text format
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON = 111.320


@dataclass
class Area:
    """A region outlets are placed in (a city, or a leaf region above city level)."""

    id: int
    code: str
    name: str
    province: str
    lon: float
    lat: float
    area_m2: float
    boundary: shapely.Geometry


@dataclass
class Network:
    """The generated network as arrays, ordered tier by tier (parents before children)."""

    tier: np.ndarray  # 0..3 (index into TIERS)
    area: np.ndarray  # index into areas
    x: np.ndarray
    y: np.ndarray
    tagged: np.ndarray  # bool: location known
    parent: np.ndarray  # index into the outlets, -1 for distributors
    status: np.ndarray  # object: active / inactive / closed
    code: list[str]
    name: list[str]
    address: list[str]
    contact: list[str]
    phone: list[str]
    sale_seller: np.ndarray
    sale_buyer: np.ndarray
    sale_date: np.ndarray  # datetime64[D]
    sale_product: np.ndarray
    sale_qty: np.ndarray
    sale_amount: np.ndarray  # fen
    sale_paid: np.ndarray  # fen
    plan_distributor: np.ndarray  # index into the outlets
    plan_month: np.ndarray  # datetime64[D], first day
    plan_product: np.ndarray
    plan_qty: np.ndarray
    plan_amount: np.ndarray  # fen
    plan_notes: list[str | None]

    def __len__(self) -> int:
        return len(self.tier)


@dataclass
class DemoReport:
    outlets: dict[str, int]
    untagged: int
    not_active: int
    regions: int
    products: int
    plans: int
    sales_records: int
    records_with_debt: int
    seconds: float
    seed: int
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def total_outlets(self) -> int:
        return sum(self.outlets.values())

    @property
    def rows(self) -> int:
        return self.total_outlets + self.products + self.plans + self.sales_records


# -- regions -------------------------------------------------------------------------------------
def _areas_statement(region_codes: Sequence[str] | None) -> Select:
    """Cities, and leaves with no city above them, among the regions chosen: every region, or
    those of ``region_codes`` and every region below them; each with its province's name."""
    r, p, child = REGIONS, REGIONS.alias("p"), REGIONS.alias("child")
    if region_codes:
        picked = region_tree(
            select(r.c.id).where(r.c.code.in_(region_codes)), name="chosen", distinct=True
        )

        def chosen(column: ColumnElement) -> ColumnElement[bool]:
            return column.in_(select(picked.c.id))
    else:

        def chosen(column: ColumnElement) -> ColumnElement[bool]:
            return true()

    up = region_tree(
        select(r.c.id, r.c.id.label("start_id")).where(chosen(r.c.id)),
        up=True,
        depth=True,
        name="above",
    )
    chain = (
        select(
            up.c.start_id.label("id"),
            func.bool_or(and_(up.c.depth > 0, p.c.level == "city", chosen(p.c.id))).label(
                "city_above"
            ),
            func.max(p.c.name).filter(p.c.level == "province").label("province"),
        )
        .select_from(up.join(p, p.c.id == up.c.id))
        .group_by(up.c.start_id)
        .subquery("chain")
    )
    leaf = ~exists().where(child.c.parent_id == r.c.id, chosen(child.c.id))
    return (
        select(
            r.c.id,
            r.c.code,
            r.c.name,
            chain.c.province,
            func.ST_AsBinary(r.c.boundary).label("wkb"),
            func.ST_X(r.c.label_point).label("lon"),
            func.ST_Y(r.c.label_point).label("lat"),
            r.c.area_m2,
        )
        .join(chain, chain.c.id == r.c.id)
        .where(or_(r.c.level == "city", and_(leaf, ~chain.c.city_above)))
        .order_by(r.c.code)
    )


def fetch_areas(session: Session, region_codes: Sequence[str] | None = None) -> list[Area]:
    """The regions to place outlets in: cities, or leaves with no city above them (districts
    are not areas: outlets are placed per city and land in its districts).

    With ``region_codes``, only those regions and the regions below them count. Boundaries
    are fetched once and tested in memory (shapely, vectorised).
    """
    if region_codes:
        known = set(session.scalars(select(REGIONS.c.code).where(REGIONS.c.code.in_(region_codes))))
        unknown = [c for c in region_codes if c not in known]
        if unknown:
            raise ValidationError(f"unknown region codes: {', '.join(unknown)}")
    areas = []
    for r in session.execute(_areas_statement(region_codes)):
        geom = shapely.from_wkb(bytes(r.wkb))
        shapely.prepare(geom)
        province = r.province or ""
        areas.append(
            Area(
                r.id,
                r.code,
                r.name,
                "" if province == r.name else province,
                r.lon,
                r.lat,
                r.area_m2,
                geom,
            )
        )
    if not areas:
        raise GeoCrmError("no regions to place outlets in: load region boundaries first")
    return areas


def _short_name(name: str) -> str:
    for suffix in _NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    return name[:2] if len(name) > 4 else name


# -- placing outlets -----------------------------------------------------------------------------
def _uniform_in(geom, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside ``geom``: draw in the bounding box, keep those inside, repeat."""
    minx, miny, maxx, maxy = shapely.bounds(geom)
    fill = max(shapely.area(geom) / max((maxx - minx) * (maxy - miny), 1e-12), 0.01)
    xs, ys, got = [np.empty(0)], [np.empty(0)], 0
    while got < n:
        m = int((n - got) / fill * 1.3) + 16
        x, y = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
        ok = shapely.contains_xy(geom, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _near(geom, cx, cy, scale_km, rng) -> tuple[np.ndarray, np.ndarray]:
    """Points around centres at exponentially distributed distances; outside ones are redrawn."""
    n = len(cx)
    x, y = np.empty(n), np.empty(n)
    todo = np.arange(n)
    for _ in range(25):
        r = rng.exponential(scale_km[todo])
        theta = rng.uniform(0.0, 2 * np.pi, len(todo))
        px = cx[todo] + r * np.cos(theta) / (KM_PER_DEG_LON * np.cos(np.radians(cy[todo])))
        py = cy[todo] + r * np.sin(theta) / KM_PER_DEG_LAT
        ok = shapely.contains_xy(geom, px, py)
        x[todo[ok]], y[todo[ok]] = px[ok], py[ok]
        todo = todo[~ok]
        if not len(todo):
            break
    if len(todo):  # centres on a thin sliver of the polygon: scatter over the whole city
        x[todo], y[todo] = _uniform_in(geom, len(todo), rng)
    return x, y


def tier_counts(outlets: int) -> list[int]:
    """Outlets per tier: ~1 % distributors, ~4 % and ~10 % wholesalers, the rest retail."""
    if outlets < MIN_OUTLETS:
        raise ValidationError(f"a demo network needs at least {MIN_OUTLETS} outlets")
    upper = [max(1, round(outlets * share)) for share in TIER_SHARES]
    return [*upper, outlets - sum(upper)]


def _allocate(areas: list[Area], counts: list[int], rng) -> np.ndarray:
    """Outlets per tier (rows) and area (columns): distributors first, the rest follow them."""
    k = len(areas)
    # cities differ far less in people than in area: a weak area term plus noise
    weight = np.array([max(a.area_m2, 1.0) for a in areas]) ** 0.25 * rng.lognormal(0, 0.6, k)
    weight /= weight.sum()
    n_d = counts[0]
    dist = np.zeros(k, dtype=np.int64)
    if n_d >= k:
        dist += 1
        dist += rng.multinomial(n_d - k, weight)
    else:
        dist[rng.choice(k, n_d, replace=False, p=weight)] = 1
    share = dist * rng.lognormal(0, 0.3, k)
    share /= share.sum()
    table = np.vstack([dist] + [rng.multinomial(n, share) for n in counts[1:]])
    # every city with wholesalers_3 or retail needs a wholesaler_2 of its own to buy from
    for c in np.flatnonzero((table[1] == 0) & (table[2] + table[3] > 0)):
        donor = int(np.argmax(table[1]))
        if table[1, donor] > 1:
            table[1, donor] -= 1
            table[1, c] += 1
    return table


def _place(areas: list[Area], table: np.ndarray, rng):
    """Coordinates, area and town of every outlet, tier-major; plus the towns' names."""
    per_tier: list[list[tuple]] = [[] for _ in TIERS]
    town_names: list[list[str]] = []
    for ai, area in enumerate(areas):
        n_d, n_2, n_3, n_r = (int(v) for v in table[:, ai])
        total = n_d + n_2 + n_3 + n_r
        if total == 0:
            town_names.append([])
            continue
        n_towns = int(np.clip(round(np.sqrt(total) / 2), 2, 40))
        tx, ty = _uniform_in(area.boundary, n_towns - 1, rng)
        if area.lon is not None and shapely.contains_xy(area.boundary, area.lon, area.lat):
            cx, cy = np.array([area.lon]), np.array([area.lat])
        else:  # the city centre is the label point, or any point inside
            cx, cy = _uniform_in(area.boundary, 1, rng)
        tx, ty = np.r_[cx, tx], np.r_[cy, ty]
        weight = np.arange(1, n_towns + 1) ** -0.9 * rng.lognormal(0, 0.3, n_towns)
        weight[0] = weight.max() * 1.5  # the city itself
        scale = 1.0 + 4.0 * np.sqrt(weight / weight.max())  # km
        names = ["城区"] + [
            f"{_TOWN_A[a]}{_TOWN_B[b]}{'镇' if s else '乡'}"
            for a, b, s in zip(
                rng.integers(0, len(_TOWN_A), n_towns - 1),
                rng.integers(0, len(_TOWN_B), n_towns - 1),
                rng.random(n_towns - 1) < 0.8,
                strict=True,
            )
        ]
        town_names.append(names)
        towns = [np.arange(n_d) % n_towns]
        scales = [np.full(n_d, 1.5)]
        rural = [np.zeros(n_d, dtype=bool)]
        for n, power, factor, rural_share in (
            (n_2, 1.3, 0.6, 0.0),
            (n_3, 1.0, 0.8, 0.03),
            (n_r, 0.8, 1.0, 0.10),
        ):
            p = weight**power
            t = rng.choice(n_towns, n, p=p / p.sum())
            towns.append(t)
            scales.append(scale[t] * factor)
            rural.append(rng.random(n) < rural_share)
        town = np.concatenate(towns)
        x, y = _near(area.boundary, tx[town], ty[town], np.concatenate(scales), rng)
        is_rural = np.concatenate(rural)
        if is_rural.any():  # villages: anywhere in the city
            x[is_rural], y[is_rural] = _uniform_in(area.boundary, int(is_rural.sum()), rng)
        start = 0
        for ti, n in enumerate((n_d, n_2, n_3, n_r)):
            sl = slice(start, start + n)
            per_tier[ti].append((np.full(n, ai), town[sl], x[sl], y[sl], is_rural[sl]))
            start += n
    cols = [np.concatenate([part[i] for tier in per_tier for part in tier]) for i in range(5)]
    tier = np.concatenate(
        [np.full(sum(len(p[0]) for p in tier), ti) for ti, tier in enumerate(per_tier)]
    )
    return tier, *cols, town_names


def _nearby(tree_pts, tree_idx, query_pts, rng, k: int) -> np.ndarray:
    """For each query point, one of the k nearest tree points in the same area, nearer likelier.

    Points carry their area as a third coordinate 1e5 km apart, so neighbours in the same
    area always come first; with none there the overall nearest is taken.
    """
    k = min(k, len(tree_pts))
    dist, idx = cKDTree(tree_pts).query(query_pts, k=k)
    dist, idx = dist.reshape(len(query_pts), k), idx.reshape(len(query_pts), k)
    same = dist < 5e4
    score = rng.random(dist.shape) / np.arange(1, k + 1)
    score[~same] = -1.0
    pick = np.argmax(score, axis=1)
    return tree_idx[idx[np.arange(len(idx)), pick]]


def _parents(tier, area, x, y, areas, rng) -> np.ndarray:
    """w2 → nearest distributor, w3 → a near w2, retail → a near w3 (or now and then a w2)."""
    lat0 = np.array([a.lat for a in areas])[area]
    pts = np.column_stack(
        [x * KM_PER_DEG_LON * np.cos(np.radians(lat0)), y * KM_PER_DEG_LAT, area * 1e5]
    )
    parent = np.full(len(tier), -1, dtype=np.int64)
    of = [np.flatnonzero(tier == t) for t in range(4)]
    parent[of[1]] = _nearby(pts[of[0]], of[0], pts[of[1]], rng, k=1)
    parent[of[2]] = _nearby(pts[of[1]], of[1], pts[of[2]], rng, k=3)
    if len(of[3]):
        from_w2 = rng.random(len(of[3])) < 0.2
        if len(of[2]):
            parent[of[3]] = _nearby(pts[of[2]], of[2], pts[of[3]], rng, k=3)
        else:
            from_w2[:] = True
        sel = of[3][from_w2]
        parent[sel] = _nearby(pts[of[1]], of[1], pts[sel], rng, k=2)
    return parent


def _pick(words: Sequence[str], n: int, rng) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), n)]


def _texts(tier, area, town, rural, areas, town_names, rng):
    """Codes, Chinese names, addresses, contacts and mobile numbers."""
    n = len(tier)
    counters = np.zeros(n, dtype=np.int64)
    for t in range(4):
        sel = tier == t
        counters[sel] = np.arange(1, int(sel.sum()) + 1)
    code = [
        f"{CODE_PREFIX[t]}{c:06d}" for t, c in zip(tier.tolist(), counters.tolist(), strict=True)
    ]
    short = [_short_name(a.name) for a in areas]
    brand, surname = _pick(_BRANDS, n, rng), _pick(_SURNAMES, n, rng)
    word = [_pick(words, n, rng) for words in _SHOP_WORDS]
    style = rng.random(n)
    road, kind = _pick(_ROADS, n, rng), _pick(_ROAD_KIND, n, rng)
    number = rng.integers(1, 400, n)
    given = _pick(_GIVEN, n, rng)
    given2 = np.where(rng.random(n) < 0.6, _pick(_GIVEN, n, rng), "")
    phone = (
        (_PHONE_PREFIX[rng.integers(0, len(_PHONE_PREFIX), n)] * 10**8 + rng.integers(0, 10**8, n))
        .astype(str)
        .tolist()
    )
    names, addresses, contacts = [], [], []
    for i, (t, a, tw) in enumerate(zip(tier.tolist(), area.tolist(), town.tolist(), strict=True)):
        town_name = town_names[a][tw]
        if t == 0:
            names.append(f"{short[a]}{brand[i]}{word[0][i]}")
        elif t < 3:
            names.append(f"{town_name if tw else short[a]}{brand[i]}{word[t][i]}")
        elif style[i] < 0.35:
            names.append(f"{surname[i]}记{word[3][i]}")
        elif style[i] < 0.55:
            names.append(f"{town_name if tw else short[a]}{brand[i]}{word[3][i]}")
        else:
            names.append(f"{brand[i]}{word[3][i]}")
        place = f"{areas[a].province}{areas[a].name}{'' if tw == 0 else town_name}"
        if rural[i]:
            addresses.append(f"{place}{brand[i][:1]}家村{number[i]}号")
        else:
            addresses.append(f"{place}{road[i]}{kind[i]}{number[i]}号")
        contacts.append(f"{surname[i]}{given[i]}{given2[i]}")
    return code, names, addresses, contacts, phone


# -- sales and plans -----------------------------------------------------------------------------
def _months(end_month: dt.date, months: int) -> list[dt.date]:
    y, m = end_month.year, end_month.month
    out = []
    for _ in range(months):
        out.append(dt.date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _sales(tier, parent, status, month_starts, today, rng):
    """Deliveries from each outlet's parent: a few per buyer, seasonal, some of them unpaid."""
    buyers = np.flatnonzero(tier > 0)
    lam = np.select([tier[buyers] == t for t in (1, 2, 3)], [PURCHASES[t] for t in (1, 2, 3)])
    buyer = np.repeat(buyers, 1 + rng.poisson(lam))
    n, n_months = len(buyer), len(month_starts)
    length = np.array([calendar.monthrange(m.year, m.month)[1] for m in month_starts])
    days = np.array(
        [
            today.day if m <= today < m + dt.timedelta(days=int(n_days)) else int(n_days)
            for m, n_days in zip(month_starts, length, strict=True)
        ]
    )
    # the month still running has had only its first days, and only their share of the buying
    # (a whole month's purchases in them made every distributor look far ahead of plan)
    season = SEASON[[m.month - 1 for m in month_starts]] * days / length
    month = rng.choice(n_months, n, p=season / season.sum())
    month = np.where(status[buyer] == "closed", month // 2, month)  # closed: bought earlier
    start = np.array(month_starts, dtype="datetime64[D]")
    date = start[month] + (rng.random(n) * days[month]).astype(np.int64)
    popularity = np.array([p[4] for p in PRODUCTS])
    product = rng.choice(len(PRODUCTS), n, p=popularity / popularity.sum())
    btier = tier[buyer]
    median = np.select([btier == t for t in (1, 2, 3)], [MEDIAN_CASES[t] for t in (1, 2, 3)])
    qty = np.maximum(1, np.rint(median * rng.lognormal(0, 0.5, n))).astype(np.int64)
    markup = np.select([btier == t for t in (1, 2, 3)], [MARKUP[t] for t in (1, 2, 3)])
    price = np.array([p[3] for p in PRODUCTS])[product] * markup * rng.uniform(0.97, 1.03, n)
    amount = qty * np.rint(price).astype(np.int64)
    # debt grows towards the latest months: ~15 % of records overall
    p_debt = 0.05 + 0.20 * (month / (n_months - 1) if n_months > 1 else 0.5)
    debt = rng.random(n) < p_debt
    partial = rng.random(n) < 0.6
    part_paid = (amount * rng.uniform(0.1, 0.9, n)).astype(np.int64)
    paid = np.where(debt, np.where(partial, part_paid, 0), amount)
    order = np.lexsort((buyer, date))
    return (
        parent[buyer][order],
        buyer[order],
        date[order],
        product[order],
        qty[order],
        amount[order],
        paid[order],
    )


def _plans(n_dist, sale_seller, sale_date, sale_product, sale_qty, month_starts, rng):
    """Targets per distributor × month × product: its recent sell-in, seasonal, a bit ambitious."""
    n_months, n_prod = len(month_starts), len(PRODUCTS)
    start = np.array(month_starts, dtype="datetime64[D]")
    from_dist = sale_seller < n_dist
    month = np.searchsorted(start, sale_date[from_dist], side="right") - 1
    key = (sale_seller[from_dist] * n_months + month) * n_prod + sale_product[from_dist]
    actual = np.bincount(key, weights=sale_qty[from_dist], minlength=n_dist * n_months * n_prod)
    actual = actual.reshape(n_dist, n_months, n_prod)
    popularity = np.array([p[4] for p in PRODUCTS])
    base = np.maximum(actual.mean(axis=1, keepdims=True), 200 * popularity)
    season = SEASON[[m.month - 1 for m in month_starts]]
    target = base * (season / season.mean())[None, :, None] * 1.08
    qty = np.ceil(target * rng.lognormal(0, 0.12, target.shape)).astype(np.int64).ravel()
    d, m, p = (a.ravel() for a in np.indices((n_dist, n_months, n_prod)))
    amount = qty * np.array([pr[3] for pr in PRODUCTS])[p]
    noted = rng.random(len(qty)) < 0.08
    notes = [
        (_PLAN_NOTES[i] if k else None)
        for k, i in zip(
            noted.tolist(), rng.integers(0, len(_PLAN_NOTES), len(qty)).tolist(), strict=True
        )
    ]
    return d, start[m], p, qty, amount, notes


def build_network(
    areas: list[Area],
    *,
    outlets: int = 30000,
    seed: int = 42,
    months: int = 12,
    end_month: dt.date | None = None,
    today: dt.date | None = None,
) -> Network:
    """The whole network in memory; the same seed and areas give the same network."""
    if not areas:
        raise GeoCrmError("no regions to place outlets in: load region boundaries first")
    if months < 1:
        raise ValidationError("months must be at least 1")
    today = today or dt.date.today()
    end_month = (end_month or today).replace(day=1)
    rng = np.random.default_rng(seed)
    table = _allocate(areas, tier_counts(outlets), rng)
    tier, area, town, x, y, rural, town_names = _place(areas, table, rng)
    parent = _parents(tier, area, x, y, areas, rng)
    n = len(tier)
    status = np.full(n, "active", dtype=object)
    roll = rng.random(n)
    status[(tier > 0) & (roll < 0.02)] = "inactive"
    status[(tier > 0) & (roll >= 0.02) & (roll < 0.03)] = "closed"
    tagged = (tier == 0) | (rng.random(n) >= UNTAGGED_SHARE)
    code, name, address, contact, phone = _texts(tier, area, town, rural, areas, town_names, rng)
    month_starts = _months(end_month, months)
    sales = _sales(tier, parent, status, month_starts, today, rng)
    n_dist = int((tier == 0).sum())
    plans = _plans(n_dist, sales[0], sales[2], sales[3], sales[4], month_starts, rng)
    return Network(
        tier,
        area,
        x,
        y,
        tagged,
        parent,
        status,
        code,
        name,
        address,
        contact,
        phone,
        *sales,
        *plans,
    )


# -- writing -------------------------------------------------------------------------------------
def _copy(raw, table: str, columns: Sequence[str], lines: list[str], chunk: int = 50000) -> None:
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for i in range(0, len(lines), chunk):
            cp.write("".join(lines[i : i + chunk]))


def _money(fen: np.ndarray) -> list[str]:
    return [f"{v // 100}.{v % 100:02d}" for v in fen.tolist()]


def _upsert_products(session: Session) -> list[int]:
    rows = [{"sku": s, "name": n, "spec": sp, "unit": PRODUCT_UNIT} for s, n, sp, _, _ in PRODUCTS]
    ids = {}
    for row in rows:  # ten products: clarity beats batching here
        ids[row["sku"]] = session.execute(
            text(
                "INSERT INTO products (sku, name, spec, unit) VALUES (:sku, :name, :spec, :unit) "
                "ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, spec = EXCLUDED.spec, "
                "unit = EXCLUDED.unit RETURNING id"
            ),
            row,
        ).scalar_one()
    return [ids[p[0]] for p in PRODUCTS]


def write_network(session: Session, net: Network, areas: list[Area]) -> dict[str, float]:
    """COPY the network into the tables on the session's connection; returns seconds per stage."""
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    session.flush()
    clash = session.execute(
        text("SELECT code FROM outlets WHERE code = ANY(:codes) LIMIT 1"),
        {"codes": [net.code[0], net.code[-1]]},
    ).scalar()
    if clash:
        raise GeoCrmError(f"outlet {clash} already exists: clear the demo network first (--reset)")
    n = len(net)
    ids = np.array(
        session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('outlets', 'id')) FROM generate_series(1, "
                ":n)"
            ),
            {"n": n},
        )
        .scalars()
        .all(),
        dtype=np.int64,
    )
    product_ids = np.array(_upsert_products(session), dtype=np.int64)
    raw = session.connection().connection.driver_connection

    locations = np.full(n, NULL, dtype=object)
    pts = shapely.set_srid(shapely.points(net.x[net.tagged], net.y[net.tagged]), 4326)
    locations[net.tagged] = shapely.to_wkb(pts, hex=True, include_srid=True)
    parent_ids = np.where(net.parent >= 0, ids[np.maximum(net.parent, 0)], -1).tolist()
    tiers = [TIERS[t] for t in net.tier.tolist()]
    lines = [
        f"{i}\t{c}\t{nm}\t{t}\t{NULL if p < 0 else p}\t{loc}\t{ad}\t{ct}\t{ph}\t{st}\n"
        for i, c, nm, t, p, loc, ad, ct, ph, st in zip(
            ids.tolist(),
            net.code,
            net.name,
            tiers,
            parent_ids,
            locations.tolist(),
            net.address,
            net.contact,
            net.phone,
            net.status.tolist(),
            strict=True,
        )
    ]
    stages["outlet rows"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    columns = (
        "id",
        "code",
        "name",
        "tier",
        "parent_id",
        "location",
        "address",
        "contact",
        "phone",
        "status",
    )
    bounds = np.searchsorted(net.tier, np.arange(5))
    for t in range(4):  # parents before children: the trigger looks each parent up
        _copy(raw, "outlets", columns, lines[bounds[t] : bounds[t + 1]])
    stages["outlets COPY"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    is_d = net.tier == 0
    assign_territories(
        session, ids[is_d], np.array([a.id for a in areas], dtype=np.int64)[net.area[is_d]]
    )
    stages["territories"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    specs = np.array([p[2] for p in PRODUCTS], dtype=object)[net.sale_product].tolist()
    lines = [
        f"{s}\t{b}\t{d}\t{p}\t{sp}\t{q}\t{a}\t{pd}\n"
        for s, b, d, p, sp, q, a, pd in zip(
            ids[net.sale_seller].tolist(),
            ids[net.sale_buyer].tolist(),
            net.sale_date.astype(str).tolist(),
            product_ids[net.sale_product].tolist(),
            specs,
            net.sale_qty.tolist(),
            _money(net.sale_amount),
            _money(net.sale_paid),
            strict=True,
        )
    ]
    stages["sales rows"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _copy(
        raw,
        "sales_records",
        (
            "seller_id",
            "buyer_id",
            "sale_date",
            "product_id",
            "spec",
            "quantity",
            "amount",
            "amount_paid",
        ),
        lines,
    )
    stages["sales COPY"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _record_payments(session, ids)
    stages["payments"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    acting_as(session, None)  # the system writes: closed months are no bar to it
    lines = [
        f"{d}\t{m}\t{p}\t{q}\t{a}\t{NULL if nt is None else nt}\n"
        for d, m, p, q, a, nt in zip(
            ids[net.plan_distributor].tolist(),
            net.plan_month.astype(str).tolist(),
            product_ids[net.plan_product].tolist(),
            net.plan_qty.tolist(),
            _money(net.plan_amount),
            net.plan_notes,
            strict=True,
        )
    ]
    _copy(
        raw,
        "sales_plans",
        (
            "distributor_id",
            "month",
            "product_id",
            "target_quantity",
            "target_amount",
            "support_notes",
        ),
        lines,
    )
    stages["plans COPY"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    write_business(session, ids[net.tier == 0], product_ids, net)
    stages["sell-in, schedules, credit"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    session.execute(text("ANALYZE outlets"))
    session.execute(text("ANALYZE sales_records"))
    session.execute(text("ANALYZE sales_plans"))
    stages["analyze"] = time.perf_counter() - t0
    return stages


def assign_territories(session: Session, distributor_ids, region_ids) -> None:
    """Give each distributor its city as territory (经销区域: the city's districts where they
    are loaded), written before the sales so that the sales trigger judges them as it would
    real ones; the shape is the one ``domain.territories.set_territory`` stores for a region
    set. Breadth is then measured over the city's districts and hexagons, not over the region
    that merely holds the network (where a one-city network read as a trivial 100 %)."""
    if not len(distributor_ids):
        return
    session.execute(
        text("""
        INSERT INTO distributor_territories (distributor_id, region_ids, geom, area_m2)
        SELECT t.d, ARRAY[t.r], ST_Multi(ST_Union(r.boundary)),
               ST_Area(geography(ST_Multi(ST_Union(r.boundary))))
          FROM unnest(CAST(:ds AS bigint[]), CAST(:rs AS int[])) AS t(d, r)
          JOIN regions r ON r.id = t.r
         GROUP BY t.d, t.r
         ORDER BY t.d
        """),
        {"ds": np.asarray(distributor_ids).tolist(), "rs": np.asarray(region_ids).tolist()},
    )


SELL_IN_PRICE = 0.92  # the manufacturer's price to distributors, of the list price
_SUPPORT_LINES = (
    ("promotion", "买十送一", 0),
    ("promotion", "端午堆头促销", 2000),
    ("materials", "海报、货架贴", 300),
    ("materials", "冰柜投放 2 台", 0),
    ("staff", "促销员 2 人驻店", 3000),
    ("other", "新品进场费", 5000),
)


def write_business(
    session: Session, distributor_ids: np.ndarray, product_ids: np.ndarray, net: Network
) -> None:
    """The manufacturer's side of the demo: sell-in to every distributor (two deliveries a
    month and product, about what it sold on, at the factory price; older months paid, the
    latest partly), a schedule for every plan (30 % by the 10th, 65 % by the 20th, all by the
    end), support lines on some plans, credit limits (about 1.5 months of sell-in) and the
    months before the last two closed. Written in SQL from the seller rollup, so it agrees
    with the sell-out just loaded; ``setseed`` keeps it the same for the same network."""
    if not len(distributor_ids):
        return
    prices = [int(p[3] * SELL_IN_PRICE) for p in PRODUCTS]
    session.execute(text("SELECT setseed(:s)"), {"s": (len(net) % 1000) / 1000})
    session.execute(
        text("""
        INSERT INTO sales_records (seller_id, buyer_id, sale_date, product_id, spec, quantity,
                                   unit_price, amount, amount_paid, reference)
        SELECT NULL::bigint, m.seller_id, d.day, m.product_id, p.spec, d.qty, pr.price / 100.0,
               d.qty * pr.price / 100.0,
               CASE WHEN m.month < (date_trunc('month', current_date) - interval '1 month')
                         OR random() < 0.5 THEN d.qty * pr.price / 100.0
                    WHEN random() < 0.5 THEN round(d.qty * pr.price / 100.0 * 0.5, 2)
                    ELSE 0 END,
               'JH-' || m.seller_id || '-' || to_char(m.month, 'YYYYMM') || '-' || m.product_id
                 || '-' || d.part
          FROM sales_seller_months m
          JOIN unnest(CAST(:pids AS int[]), CAST(:prices AS int[])) AS pr(id, price)
            ON pr.id = m.product_id
          JOIN products p ON p.id = m.product_id
          CROSS JOIN LATERAL (
              SELECT part, LEAST(m.month + (CASE part WHEN 1 THEN 4 ELSE 17 END),
                                 current_date) AS day,
                     GREATEST(1, ceil(m.quantity_milli / 1000.0 * (0.45 + random() * 0.15)))
                       ::numeric AS qty
                FROM generate_series(1, 2) part) d
         WHERE m.seller_id = ANY(:ids)
         ORDER BY m.seller_id, m.month, m.product_id, d.part
        """),
        {"ids": distributor_ids.tolist(), "pids": product_ids.tolist(), "prices": prices},
    )
    # payments of the paid sell-in (the trigger would add them to amount_paid a second time),
    # schedules and support without a history row each: replica mode skips triggers
    session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(
        text(
            "INSERT INTO payments (sales_record_id, paid_on, amount, note) "
            "SELECT r.id, GREATEST(r.sale_date, LEAST(r.sale_date + (r.id % 28)::int, "
            "current_date)), r.amount_paid, 'demo' FROM sales_records r "
            "WHERE r.seller_id IS NULL AND r.buyer_id = ANY(:ids) AND r.amount_paid > 0"
        ),
        {"ids": distributor_ids.tolist()},
    )
    session.execute(
        text("""
        INSERT INTO sales_plan_schedule (plan_id, by_day, target_quantity, target_amount)
        SELECT p.id, s.day, round(p.target_quantity * s.share, 3),
               round(p.target_amount * s.share, 2)
          FROM sales_plans p
          CROSS JOIN LATERAL (VALUES (10, 0.30), (20, 0.65),
               (extract(day FROM p.month + interval '1 month' - interval '1 day')::int, 1.0))
               AS s(day, share)
         WHERE p.distributor_id = ANY(:ids)
         ORDER BY p.id, s.day
        """),
        {"ids": distributor_ids.tolist()},
    )
    kinds, descriptions, amounts = zip(*_SUPPORT_LINES, strict=True)
    session.execute(
        text("""
        INSERT INTO sales_plan_support (plan_id, kind, description, amount)
        SELECT p.id, l.kind, l.description, nullif(l.amount, 0)
          FROM sales_plans p
          JOIN unnest(CAST(:kinds AS text[]), CAST(:descriptions AS text[]),
                      CAST(:amounts AS numeric[])) WITH ORDINALITY AS l(kind, description,
                                                                          amount, n)
            ON l.n = 1 + (p.id % 37)
         WHERE p.distributor_id = ANY(:ids)
         ORDER BY p.id
        """),
        {
            "ids": distributor_ids.tolist(),
            "kinds": list(kinds),
            "descriptions": list(descriptions),
            "amounts": list(amounts),
        },  # fmt: skip
    )
    session.execute(text("SET LOCAL session_replication_role = origin"))
    session.execute(
        text("""
        INSERT INTO distributor_credit (distributor_id, credit_limit)
        SELECT buyer_id, greatest(10000, round(sum(amount_fen) / 100.0 / count(DISTINCT month)
                                               * 1.5 / 10000) * 10000)
          FROM sales_buyer_months WHERE buyer_id = ANY(:ids)
         GROUP BY buyer_id ORDER BY buyer_id
        ON CONFLICT (distributor_id) DO NOTHING
        """),
        {"ids": distributor_ids.tolist()},
    )
    session.execute(
        text("""
        INSERT INTO closed_months (month)
        SELECT DISTINCT month FROM sales_plans
         WHERE month < (date_trunc('month', current_date) - interval '1 month')::date
        ON CONFLICT DO NOTHING
        """)
    )


def _record_payments(session: Session, outlet_ids: np.ndarray) -> None:
    """One payment per partly or fully paid demo record, so that paid is the sum of payments.

    The records were written with their ``amount_paid``; the payments trigger, which would add
    each payment to it a second time, is skipped for this one statement only.
    """
    session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(
        text(
            "INSERT INTO payments (sales_record_id, paid_on, amount, note) "
            "SELECT r.id, GREATEST(r.sale_date, LEAST(r.sale_date + (r.id % 28)::int, "
            "current_date)), r.amount_paid, 'demo' "
            "FROM sales_records r JOIN unnest(CAST(:ids AS bigint[])) AS s(id) "
            "ON r.seller_id = s.id WHERE r.amount_paid > 0"
        ),
        {"ids": outlet_ids.tolist()},
    )
    session.execute(text("SET LOCAL session_replication_role = origin"))


def generate_network(
    session: Session,
    *,
    outlets: int = 30000,
    seed: int = 42,
    region_codes: list[str] | None = None,
    months: int = 12,
    end_month: dt.date | None = None,
) -> DemoReport:
    """Generate and load a demo network in the session's transaction (the caller commits)."""
    started = time.perf_counter()
    t0 = started
    areas = fetch_areas(session, region_codes)
    stages = {"regions": time.perf_counter() - t0}
    t0 = time.perf_counter()
    net = build_network(areas, outlets=outlets, seed=seed, months=months, end_month=end_month)
    stages["generate"] = time.perf_counter() - t0
    LOGGER.info("generated %d outlets in %.1f s; loading", len(net), stages["generate"])
    stages.update(write_network(session, net, areas))
    seconds = time.perf_counter() - started
    report = DemoReport(
        outlets={t: int((net.tier == i).sum()) for i, t in enumerate(TIERS)},
        untagged=int((~net.tagged).sum()),
        not_active=int((net.status != "active").sum()),
        regions=len(np.unique(net.area)),
        products=len(PRODUCTS),
        plans=len(net.plan_qty),
        sales_records=len(net.sale_qty),
        records_with_debt=int((net.sale_paid < net.sale_amount).sum()),
        seconds=seconds,
        seed=seed,
        stages=stages,
    )
    LOGGER.info(
        "demo network: %d outlets, %d sales records, %d plans in %.1f s",
        report.total_outlets,
        report.sales_records,
        report.plans,
        seconds,
    )
    return report


def outlet_count(session: Session) -> int:
    return session.execute(text("SELECT count(*) FROM outlets")).scalar_one()


def clear_network(session: Session) -> None:
    """Remove every outlet and what hangs off it: sales, payments, plans, evaluations, geotags.

    TRUNCATE … CASCADE, because the append-only row triggers on evaluations and geotag events
    refuse DELETE (TRUNCATE fires no row triggers); CASCADE also empties any other table that
    references these. Regions, users and products stay.
    """
    session.flush()
    session.execute(
        text(
            "TRUNCATE payments, sales_records, sales_plans, evaluations, "
            "geotag_events, outlets CASCADE"
        )
    )


DEMO_USERS = (("admin", "admin"), ("manager", "manager"), ("rep", "rep"))


def ensure_demo_users(session: Session, password: str) -> list[str]:
    """Create the demo's admin, manager and rep unless they exist; return the names created.

    The manager is scoped to the province of the busiest city (the most outlets in it and its
    districts), the rep owns 60 outlets of that city (untagged ones first), so every role has
    something to see and to tag.
    """
    from ..domain import users as user_svc

    existing = set(session.scalars(text("SELECT username FROM users")))
    busiest = _busiest_area(session)
    created = []
    for username, role in DEMO_USERS:
        if username in existing:
            continue
        scope = [_province_of(session, busiest)] if role == "manager" and busiest else ()
        user_svc.create_user(session, username, role, password, region_codes=scope)
        created.append(username)
    rep_has_outlets = session.scalar(
        text(
            "SELECT EXISTS (SELECT 1 FROM outlets o JOIN users u ON u.id = o.rep_id"
            " WHERE u.username = 'rep')"
        )
    )
    if (
        busiest
        and not rep_has_outlets
        and session.scalar(text("SELECT role = 'rep' FROM users WHERE username = 'rep'"))
    ):
        area = region_tree(select(REGIONS.c.id).where(REGIONS.c.id == busiest), name="area")
        o, p = OUTLETS.alias("o"), OUTLETS.alias("p")
        in_area = select(area.c.id)
        codes = list(
            session.scalars(
                select(o.c.code)
                .outerjoin(p, p.c.id == o.c.parent_id)
                .where(
                    o.c.tier != "distributor",
                    o.c.status == "active",
                    or_(
                        o.c.region_id.in_(in_area),
                        and_(o.c.location.is_(None), p.c.region_id.in_(in_area)),
                    ),
                )
                .order_by(o.c.location.is_(None).desc(), o.c.id)
                .limit(60)
            )
        )
        if codes:
            user_svc.assign_outlets(session, "rep", codes)
    return created


def _busiest_area(session: Session) -> int | None:
    """The city holding the most outlets, in it or in its districts (without cities: the
    region holding the most outlets); None without located outlets."""
    counts = (
        select(OUTLETS.c.region_id.label("id"), func.count().label("outlets"))
        .where(OUTLETS.c.region_id.is_not(None))
        .group_by(OUTLETS.c.region_id)
    )
    above = region_tree(counts, up=True, name="above")
    r = REGIONS
    total = func.sum(above.c.outlets)
    city = session.scalar(
        select(r.c.id)
        .join(above, above.c.id == r.c.id)
        .where(r.c.level == "city")
        .group_by(r.c.id, r.c.code)
        .order_by(total.desc(), r.c.code)
        .limit(1)
    )
    if city is not None:
        return city
    region = counts.subquery("counts")
    return session.scalar(
        select(region.c.id)
        .join(r, r.c.id == region.c.id)
        .order_by(region.c.outlets.desc(), r.c.code)
        .limit(1)
    )


def _province_of(session: Session, region_id: int) -> str:
    """The code of the province holding ``region_id`` (itself included); without one, the
    region's parent's code, else its own."""
    r = REGIONS
    above = region_tree(select(r.c.id).where(r.c.id == region_id), up=True, depth=True)
    return session.scalar(
        select(r.c.code)
        .join(above, above.c.id == r.c.id)
        .order_by((r.c.level == "province").desc(), (above.c.depth == 1).desc(), above.c.depth)
        .limit(1)
    )
