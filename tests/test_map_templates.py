"""``maps.templates``: rendering a map compiles Folium's and branca's templates once per
process, and the page is the same string as when every template was compiled per map."""

from __future__ import annotations

import jinja2
import pytest
from shapely.geometry import box, mapping
from test_maps_data import overlay_names
from test_maps_html import REGION, SUBS, XSS, rows, settings

from geo_crm.maps import templates
from geo_crm.maps.base import render
from geo_crm.maps.coverage import Catchment, CoverageData, coverage_map
from geo_crm.maps.density import DensityData, density_map
from geo_crm.maps.gaps import GapData, gap_map


def _maps():
    cov = CoverageData(
        covered={"all": mapping(box(120.2, 30.2, 121.8, 31.2))},
        ratio={"all": 0.5},
        subregion_ratio={"C1": 0.55, "C2": 0.05},
        radii={"distributor": 30000, "retail": 1000},
        catchments=[Catchment("D1", XSS, mapping(box(120.3, 30.3, 120.6, 30.6)))],
    )
    gaps = GapData(
        cells=[mapping(box(120.1 + i / 10, 30.1, 120.2 + i / 10, 30.2)) for i in range(5)],
        distance_m=[1000.0, 2000.0, 3000.0, 4000.0, float("inf")],
        white_space=["C2"],
        radius_m=1000.0,
    )
    density = DensityData(
        cells=[mapping(box(120.1 + i / 10, 30.3, 120.2 + i / 10, 30.4)) for i in range(5)],
        value=[1.0, 2.0, 3.0, 4.0, 5.0],
        subregion_per_km2={"C1": 0.5, "C2": 1.5},
    )
    return {
        "coverage": coverage_map(REGION, SUBS, settings("zh"), coverage=cov, rows=rows()),
        "gaps": gap_map(REGION, SUBS, settings("en"), gaps=gaps, rows=rows(40)),
        "density": density_map(REGION, SUBS, settings("en"), density=density, rows=rows()),
    }


@pytest.fixture
def same_ids(monkeypatch):
    """Elements named by a counter instead of random bytes: a tree built twice is the same."""
    import itertools

    from branca.element import Element

    counter = {"n": itertools.count()}
    monkeypatch.setattr(
        Element, "_generate_id", classmethod(lambda cls: f"{next(counter['n']):032x}")
    )

    def restart():
        counter["n"] = itertools.count()

    yield restart
    templates.install()


def test_the_page_is_the_same_as_with_templates_compiled_per_map(same_ids):
    templates.uninstall()
    before = {k: render(m) for k, m in _maps().items()}
    same_ids()
    templates.install()
    after = {k: render(m) for k, m in _maps().items()}
    for kind, page in after.items():
        assert page == before[kind], kind
        assert "{{" not in page and len(overlay_names(page)) > 2


def test_templates_are_compiled_once_per_process(monkeypatch):
    assert templates.installed()
    compiled = []
    real = jinja2.Environment.from_string

    def counting(self, source, *args, **kwargs):
        compiled.append(source)
        return real(self, source, *args, **kwargs)

    render(_maps()["coverage"])  # the constant templates (tooltips, popups) compiled and kept
    monkeypatch.setattr(jinja2.Environment, "from_string", counting)
    render(_maps()["coverage"])
    assert compiled == []
    templates.uninstall()
    try:
        render(_maps()["coverage"])
    finally:
        templates.install()
    assert len(compiled) > 10  # per map, before: every rendered part, every tooltip


def test_a_text_renders_as_jinja_renders_it():
    for text in ("", "a", "a\n", "a\n\n", "x\r\ny\rz\n", "{ {x} }", "<b>{'a': [1]}</b>\r\n"):
        assert templates.Text(text).render(this=None) == jinja2.Template(text).render(), text
    import branca.element

    cached = branca.element.Template  # installed: compiled once, then the same template
    assert cached("{{ 1 + 1 }}") is cached("{{ 1 + 1 }}")
    assert cached("{{ 1 + 1 }}").render() == "2" and isinstance(cached("a"), templates.Text)
