"""English names for Chinese place names: Hanyu Pinyin of the proper name plus an English word
for the administrative unit, as Chinese place names are commonly romanised in English.

Build-time only (scripts/build_regions.py): needs the PyPI package ``pypinyin`` (the ``build``
extra of pyproject.toml); the app never imports this module.

Rules (``romanize``):
- the proper name in Hanyu Pinyin, syllables joined, first letter capitalised, an apostrophe
  before a syllable starting with a, o or e (西安 → Xi'an, 六安 → Lu'an), ü kept (吕梁 → Lüliang);
- the unit: 区 → District, 县 → County, 旗 → Banner, 盟 → League, 地区 → Prefecture,
  林区 → Forestry District, 特区 → Special District, 新区 → New Area; a county-level or
  prefecture-level city (市) takes no word (桐乡市 → Tongxiang);
- autonomous units name their peoples in English (黔东南苗族侗族自治州 → Qiandongnan Miao and
  Dong Autonomous Prefecture; 自治县/自治旗 → Autonomous County/Banner);
- banner positions are translated (科尔沁右翼前旗 → Keerqin Right Wing Front Banner);
- a few readings pypinyin gets wrong for place names are fixed (``_PHRASES``; 单县 → Shan
  County, 漯河 → Luohe, 长治 → Changzhi; 都 is du in place names).

Special cases (established English names that are not the Pinyin of the Chinese characters) are
not applied here: callers pass them in, keyed by code and checked against the source's name.
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin, load_phrases_dict, load_single_dict

# readings of characters in place names that differ from pypinyin's default
_SINGLE = {ord("都"): "dū", ord("长"): "cháng"}  # 成都, 宁都 …; 长沙, 长白 … (长子 is a phrase)
_PHRASES = {
    "单县": [["shàn"], ["xiàn"]],
    "长治": [["cháng"], ["zhì"]],
    "漯河": [["luò"], ["hé"]],
    "覃塘": [["qín"], ["táng"]],
    "洪洞": [["hóng"], ["tóng"]],
    "繁峙": [["fán"], ["shì"]],
    "乐陵": [["lào"], ["líng"]],
    "什邡": [["shí"], ["fāng"]],
    "召陵": [["shào"], ["líng"]],
    "六合": [["lù"], ["hé"]],
    "涡阳": [["guō"], ["yáng"]],
    "珲春": [["hún"], ["chūn"]],
    "筠连": [["jūn"], ["lián"]],
    "浚县": [["xùn"], ["xiàn"]],
    "郫都": [["pí"], ["dū"]],
    "长子": [["zhǎng"], ["zǐ"]],
}
_loaded = False

# peoples named in autonomous units, in their usual English form
PEOPLES = {
    "蒙古": "Mongol", "藏": "Tibetan", "回": "Hui", "维吾尔": "Uyghur", "苗": "Miao", "彝": "Yi",
    "壮": "Zhuang", "布依": "Bouyei", "朝鲜": "Korean", "满": "Manchu", "侗": "Dong", "瑶": "Yao",
    "白": "Bai", "土家": "Tujia", "哈尼": "Hani", "哈萨克": "Kazakh", "傣": "Dai", "黎": "Li",
    "傈僳": "Lisu", "佤": "Va", "畲": "She", "拉祜": "Lahu", "水": "Sui", "东乡": "Dongxiang",
    "纳西": "Naxi", "景颇": "Jingpo", "柯尔克孜": "Kyrgyz", "土": "Tu", "达斡尔": "Daur",
    "仫佬": "Mulao", "羌": "Qiang", "布朗": "Blang", "撒拉": "Salar", "毛南": "Maonan",
    "仡佬": "Gelao", "锡伯": "Xibe", "普米": "Pumi", "塔吉克": "Tajik", "怒": "Nu",
    "鄂温克": "Evenk", "保安": "Bonan", "裕固": "Yugur", "京": "Gin", "独龙": "Derung",
    "鄂伦春": "Oroqen", "各": "Various Ethnic Groups",
}
# a people is named with 族, except these (哈萨克, 蒙古 … also appear without it)
_WITHOUT_ZU = {"蒙古", "哈萨克", "锡伯", "塔吉克", "柯尔克孜", "鄂伦春", "维吾尔"}

_UNITS = (  # longest first
    ("自治州", "Autonomous Prefecture"),
    ("自治县", "Autonomous County"),
    ("自治旗", "Autonomous Banner"),
    ("地区", "Prefecture"),
    ("林区", "Forestry District"),
    ("特区", "Special District"),
    ("新区", "New Area"),
    ("区", "District"),
    ("县", "County"),
    ("旗", "Banner"),
    ("盟", "League"),
    ("市", ""),
)
# whole names whose proper part is a common word rather than a name
_WHOLE = {
    "城区": "Urban District", "郊区": "Suburban District", "矿区": "Mining District",
    "东区": "East District", "西区": "West District", "南区": "South District",
    "北区": "North District", "中区": "Central District",
}
_BANNER_POSITION = (("前", "Front"), ("后", "Rear"), ("中", "Middle"))
_BANNER_SIDE = (("左翼", "Left Wing"), ("右翼", "Right Wing"), ("左", "Left"), ("右", "Right"))


def _ensure_dicts() -> None:
    global _loaded
    if not _loaded:
        load_single_dict(_SINGLE)
        load_phrases_dict(_PHRASES)
        _loaded = True


def pinyin(name: str) -> str:
    """Hanyu Pinyin of a proper name: 西安 → Xi'an, 吕梁 → Lüliang, 呼和浩特 → Huhehaote."""
    if not name:
        return ""
    _ensure_dicts()
    out = ""
    for syl in lazy_pinyin(name, style=Style.NORMAL, v_to_u=True, errors="strict"):
        if out and syl[:1] in ("a", "o", "e"):
            out += "'"
        out += syl
    return out[:1].upper() + out[1:]


def _peoples(stem: str) -> tuple[str, list[str]]:
    """Split 黔东南苗族侗族 into (黔东南, [Miao, Dong]), peoples read from the end."""
    found: list[str] = []
    while True:
        for zh in sorted(PEOPLES, key=len, reverse=True):
            if stem.endswith(zh + "族"):
                stem = stem[: -len(zh) - 1]
            elif zh in _WITHOUT_ZU and stem.endswith(zh):
                stem = stem[: -len(zh)]
            else:
                continue
            found.insert(0, PEOPLES[zh])
            break
        else:
            return stem, found


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def romanize(name: str, proper: dict[str, str] | None = None) -> str:
    """The English name of a Chinese place name (see the module docstring for the rules).

    ``proper`` maps proper names to an established English form used instead of their Pinyin
    (乌鲁木齐县 with {"乌鲁木齐": "Ürümqi"} → Ürümqi County)."""
    if name in _WHOLE:
        return _WHOLE[name]
    if name.endswith("直辖") and len(name) > 2:  # 海西蒙古族藏族自治州直辖: the area it runs itself
        return f"Area directly under {romanize(name[:-2], proper)}"
    pinyin_of = (lambda stem: proper.get(stem) or pinyin(stem)) if proper else pinyin
    stem, unit = name, ""
    for zh, en in _UNITS:
        if name.endswith(zh) and len(name) > len(zh):
            stem, unit = name[: -len(zh)], en
            break
    words: list[str] = []
    if unit.startswith("Autonomous"):
        stem, peoples = _peoples(stem)
        for zh, en in _BANNER_SIDE[:2]:  # 喀喇沁左翼蒙古族自治县 → Kalaqin Left Wing Mongol …
            if stem.endswith(zh) and len(stem) > len(zh):
                stem, peoples = stem[: -len(zh)], [f"{en} {_join(peoples)}"]
                break
        if not peoples:
            raise ValueError(f"{name}: autonomous unit without a known people")
        if not stem:  # 东乡族自治县, 鄂伦春自治旗: the people is the name
            return f"{_join(peoples)} {unit}"
        words = [pinyin_of(stem), _join(peoples), unit]
    elif unit == "Banner":
        tail: list[str] = []
        if stem.endswith("联合"):
            stem, tail = stem[:-2], ["United"]
        for zh, en in _BANNER_POSITION:
            if stem.endswith(zh) and len(stem) > 1:
                stem, tail = stem[:-1], [en, *tail]
                break
        for zh, en in _BANNER_SIDE:
            if stem.endswith(zh) and len(stem) > len(zh):
                stem, tail = stem[: -len(zh)], [en, *tail]
                break
        words = [pinyin_of(stem), *tail, unit]
    else:
        words = [pinyin_of(stem), unit]
    return re.sub(r" +", " ", " ".join(w for w in words if w)).strip()
