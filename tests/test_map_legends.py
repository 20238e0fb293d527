"""Map legends (#16.6): a legend lists only what is drawn (a row per tier layer that is on),
and a density map filtered by product names the product."""

from __future__ import annotations

from shapely.geometry import box, mapping
from test_maps_html import REGION, SUBS, XSS, of_type, rows, settings, shows

from geo_crm.maps.base import render
from geo_crm.maps.coverage import CoverageData, coverage_map
from geo_crm.maps.density import DensityData, density_map
from geo_crm.maps.elements import Legend, TierGroup


def _density(**kw):
    cells = [mapping(box(120 + i * 0.1, 30.5, 120.1 + i * 0.1, 30.6)) for i in range(10)]
    data = DensityData(cells=cells, value=list(range(1, 11)), subregion_per_km2={"C1": 3.0})
    return density_map(REGION, SUBS, settings("en"), density=data, **kw)


def test_a_density_map_filtered_by_product_names_it_in_title_and_legends():
    product = f"{XSS} 500ml (SKU-9)"
    m = _density(product=product)
    page = render(m)
    assert shows(page, f"Sales density map · {product}")
    legends = [lg.title for lg in of_type(m, Legend)]
    assert any(title.startswith("Sales per cell") and title.endswith(product) for title in legends)
    assert any(title.startswith("Sales per km²") and title.endswith(product) for title in legends)
    assert XSS not in page  # escaped everywhere


def test_a_density_map_of_every_product_names_none():
    titles = [lg.title for lg in of_type(_density(), Legend)]
    assert not any("SKU" in title for title in titles)


def test_the_outlets_legend_has_a_row_per_tier_layer():
    m = coverage_map(REGION, SUBS, settings("en"), coverage=CoverageData(), rows=rows(6))
    groups = {g.tier: g for g in of_type(m, TierGroup)}
    legend = next(lg for lg in of_type(m, Legend) if lg.title == "Outlets by tier")
    assert legend.row_layers == [groups[tier] for tier in groups]  # in the legend's row order
    page = render(m)
    call = page.split(legend.html_js, 1)[1].split(");", 1)[0]
    assert "null, [" in call and all(g.get_name() in call for g in groups.values())


def test_a_legend_without_row_layers_keeps_its_one_layer_call():
    legend = Legend("T", [("box", "#fff", None, "a")])
    assert legend.row_layers is None and legend.row_names() == ""
