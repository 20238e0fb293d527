window.GeoCrm = window.GeoCrm || (function () {
  var G = {};
  G.renderer = function (map) {
    if (!map._gcCanvas) { map._gcCanvas = L.canvas({ padding: 0.5, tolerance: 3 }); }
    return map._gcCanvas;
  };
  // the legends' stack (bottom left, above the scale): a title bar that stays in view and
  // folds the whole stack, over a scrolling body of legends (each folds to its own title)
  G.legendBox = function (map) {
    if (!map._gcLegendBox) {
      var c = L.control({ position: 'bottomleft' });
      c.onAdd = function () {
        var d = L.DomUtil.create('div', 'gc-legends');
        var head = L.DomUtil.create('button', 'gc-legends-head', d);
        head.type = 'button';
        head.setAttribute('aria-expanded', 'true');
        L.DomUtil.create('div', 'gc-legends-body', d);
        L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d);
        L.DomEvent.on(head, 'click', function () {
          G.foldLegends(map, !d.classList.contains('gc-legends-folded'));
        });
        return d;
      };
      c.addTo(map);
      map._gcLegendBox = c.getContainer();
    }
    return map._gcLegendBox.querySelector('.gc-legends-body');
  };
  G.foldLegends = function (map, folded) {
    var d = map._gcLegendBox;
    if (!d) { return; }
    d.classList.toggle('gc-legends-folded', folded);
    d.querySelector('.gc-legends-head').setAttribute('aria-expanded', folded ? 'false' : 'true');
  };
  // last on the page: the stack's title; on a narrow map the stack starts folded; then the map
  // fits its region beside the legends (right of them on a desk, above the folded stack on a
  // phone), so they never cover its western part
  G.NARROW = 600;
  G.fitAround = function (map, title) {
    var d = map._gcLegendBox;
    if (!d) { return; }
    d.querySelector('.gc-legends-head').textContent = title;
    var size = map.getSize();
    if (size.x < G.NARROW) { G.foldLegends(map, true); G.foldLayers(map); }
    if (!map._gcFit) { return; }
    var box = d.getBoundingClientRect(), frame = map.getContainer().getBoundingClientRect();
    var right = box.right - frame.left, top = box.top - frame.top;
    var opts = { animate: false };
    if (right < size.x * 0.4) {
      opts.paddingTopLeft = [right + 8, 0];
    } else {
      opts.paddingBottomRight = [0, size.y - top + 8];
    }
    map.fitBounds(map._gcFit, opts);
  };
  // on a narrow map the layer list (Leaflet's control, built expanded for a desk) starts as
  // its button: a tap on it opens the list (Leaflet's own handler), a tap on the map closes it
  G.foldLayers = function (map) {
    var c = map.getContainer().querySelector('.leaflet-control-layers');
    if (!c) { return; }
    var fold = function () { c.classList.remove('leaflet-control-layers-expanded'); };
    fold();
    map.on('click', fold);
  };
  // html was built server-side from escaped text only
  G.legend = function (map, html, layer, rowLayers) {
    var d = L.DomUtil.create('div', 'gc-legend', G.legendBox(map));
    d.innerHTML = html;
    // a click on its title folds a legend to that line (the map under it shows again)
    var title = d.querySelector('h4');
    if (title) {
      title.setAttribute('role', 'button');
      title.setAttribute('tabindex', '0');
      title.setAttribute('aria-expanded', 'true');
      var fold = function () {
        var folded = d.classList.toggle('gc-folded');
        title.setAttribute('aria-expanded', folded ? 'false' : 'true');
      };
      L.DomEvent.on(title, 'click', fold);
      L.DomEvent.on(title, 'keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { L.DomEvent.preventDefault(e); fold(); }
      });
    }
    if (rowLayers) {
      // one row per layer: a row shows while its layer is on, the legend while any is
      var rows = d.querySelectorAll('.gc-row');
      var syncRows = function () {
        var any = false;
        for (var i = 0; i < rows.length; i++) {
          var on = !rowLayers[i] || map.hasLayer(rowLayers[i]);
          rows[i].style.display = on ? '' : 'none';
          any = any || on;
        }
        d.style.display = any ? '' : 'none';
      };
      map.on('overlayadd overlayremove zoomend', syncRows);
      setTimeout(syncRows, 0);
    } else if (layer) {
      var sync = function () { d.style.display = map.hasLayer(layer) ? '' : 'none'; };
      map.on('overlayadd overlayremove zoomend', sync);
      setTimeout(sync, 0);
    }
    return d;
  };
  G.table = function (caption, head, row) {
    var h = '<table class="gc-pop">';
    if (caption) { h += '<caption>' + caption + '</caption>'; }
    for (var k = 0; k < head.length; k++) {
      if (row[k] === '' || row[k] === null || row[k] === undefined) { continue; }
      h += '<tr><th>' + head[k] + '</th><td>' + row[k] + '</td></tr>';
    }
    return h + '</table>';
  };
  G.fmt = function (n, lang) { return Number(n).toLocaleString(lang); };
  // outlets as circle markers on one canvas; d is columnar, every string pre-escaped HTML
  // coordinates come as integers: lon = x0 + x / k (k = 10^digits), shorter than decimals
  G.latlng = function (d, i) { return [d.y0 + d.y[i] / d.k, d.x0 + d.x[i] / d.k]; };
  G.points = function (map, groups, d) {
    var r = G.renderer(map), n = d.x.length;
    for (var i = 0; i < n; i++) {
      var s = d.style[d.t[i]];
      groups[d.t[i]].addLayer(L.circleMarker(G.latlng(d, i), {
        renderer: r, radius: s.r, color: '#ffffff', weight: 1, opacity: 0.9,
        fillColor: s.c, fillOpacity: 0.9, gcIndex: i }));
    }
    // rows: [name, code, parent, region, geotag, sales, debt, href]; trailing blanks dropped,
    // href only when the code is not already a plain URL segment
    var popup = function (e) {
      var i = e.layer.options.gcIndex, row = d.rows[i];
      var cells = [d.tierNames[d.t[i]]].concat(row.slice(1, 7));
      var html = G.table(row[0], d.head, cells);
      var href = row[7] || d.href + row[1];
      html += '<a class="gc-link" href="' + href + '" target="_top">' + d.open + '</a>';
      L.popup({ maxWidth: 340 }).setLatLng(e.layer.getLatLng()).setContent(html).openOn(map);
    };
    var hover = function (e) {
      var m = e.layer;
      if (!m.getTooltip()) { m.bindTooltip(d.rows[m.options.gcIndex][0], { direction: 'top' }); }
      m.openTooltip();
    };
    for (var g = 0; g < groups.length; g++) {
      if (groups[g]) { groups[g].on('click', popup); groups[g].on('mouseover', hover); }
    }
  };
  // panes that order a map's layers whatever order they were added in: shading (choropleths,
  // covered areas) under the overlay pane, where outlets and hexagon outlines share one canvas;
  // the hexagons' counts above everything, never catching the pointer
  G.pane = function (map, name, z, pointer) {
    var p = map.getPane(name);
    if (!p) {
      p = map.createPane(name);
      p.style.zIndex = z;
      if (!pointer) { p.style.pointerEvents = 'none'; }
    }
    return p;
  };
  G.COUNT_PANE = 'gcCounts';  // z 450 (maps/style.py): above the overlay pane, under markers
  // the count of each hexagon written at its centre on a canvas of its own, redrawn after every
  // move (only the cells in view, only when the number fits the hexagon)
  G.HexLabels = L.Layer.extend({
    initialize: function (cells, size, lang) {
      this._cells = cells;  // [[lat, lng, total], ...]
      this._size = size;  // circumradius, EPSG:3857 metres
      this._fmt = new Intl.NumberFormat(lang, { notation: 'compact', maximumFractionDigits: 1 });
    },
    onAdd: function (map) {
      this._canvas = L.DomUtil.create('canvas', 'gc-count-labels',
                                      G.pane(map, G.COUNT_PANE, 450, false));
      map.on('moveend resize', this._draw, this);
      map.on('zoomstart', this._hide, this);
      this._draw();
    },
    onRemove: function (map) {
      map.off('moveend resize', this._draw, this);
      map.off('zoomstart', this._hide, this);
      L.DomUtil.remove(this._canvas);
    },
    _hide: function () { this._canvas.style.visibility = 'hidden'; },
    _draw: function () {
      var map = this._map, size = map.getSize(), c = this._canvas;
      var ratio = window.devicePixelRatio || 1;
      L.DomUtil.setPosition(c, map.containerPointToLayerPoint([0, 0]));
      c.width = size.x * ratio; c.height = size.y * ratio;
      c.style.width = size.x + 'px'; c.style.height = size.y + 'px';
      c.style.visibility = '';
      var ctx = c.getContext('2d');
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      var px = this._size / (40075016.686 / (256 * Math.pow(2, map.getZoom())));
      var room = Math.sqrt(3) * px - 2;  // the hexagon's width, less its outline
      if (room < 10) { return; }
      ctx.font = '600 ' + Math.min(12, Math.max(9, px * 0.8)).toFixed(0) + 'px system-ui, sans-serif';
      ctx.textAlign = 'center'; ctx.textBaseline = 'middle'; ctx.lineJoin = 'round';
      ctx.lineWidth = 3; ctx.strokeStyle = 'rgba(255,255,255,0.9)'; ctx.fillStyle = '#2d004b';
      for (var i = 0; i < this._cells.length; i++) {
        var cell = this._cells[i], pt = map.latLngToContainerPoint([cell[0], cell[1]]);
        if (pt.x < -px || pt.y < -px || pt.x > size.x + px || pt.y > size.y + px) { continue; }
        var text = this._fmt.format(cell[2]);
        if (ctx.measureText(text).width > room) { continue; }
        ctx.strokeText(text, pt.x, pt.y);
        ctx.fillText(text, pt.x, pt.y);
      }
    }
  });
  // outlets counted per hexagon (axial q/r in EPSG:3857 metres), one level per zoom band: an
  // outline coloured by the count and the count written inside, no fill, so the shading under
  // them (coverage, density) keeps its own colours
  G.hexes = function (map, group, d) {
    var r = G.renderer(map), SM = L.Projection.SphericalMercator, shown = -1, built = {};
    var colour = function (n) {
      for (var k = d.breaks.length - 1; k >= 0; k--) {
        if (n >= d.breaks[k]) { return d.colours[k]; }
      }
      return d.colours[0];
    };
    var build = function (li) {
      var lv = d.levels[li], g = L.layerGroup(), s = lv.size, w = Math.sqrt(3) * s, cells = [];
      for (var i = 0; i < lv.q.length; i++) {
        var cx = d.origin[0] + w * (lv.q[i] + lv.r[i] / 2), cy = d.origin[1] + 1.5 * s * lv.r[i];
        var ring = [], total = 0, counts = lv.c[i];
        for (var k = 0; k < 6; k++) {
          var a = Math.PI / 180 * (60 * k + 30);
          ring.push(SM.unproject(L.point(cx + s * Math.cos(a), cy + s * Math.sin(a))));
        }
        for (var t = 0; t < counts.length; t++) { total += counts[t]; }
        // fill stays on (at opacity 0) so the whole hexagon answers the pointer
        var p = L.polygon(ring, { renderer: r, weight: 1.5, color: colour(total), opacity: 0.95,
                                  fill: true, fillOpacity: 0, gcCounts: counts, gcTotal: total });
        g.addLayer(p);
        var c = SM.unproject(L.point(cx, cy));
        cells.push([c.lat, c.lng, total]);
      }
      g.addLayer(new G.HexLabels(cells, s, d.lang));
      g.on('mouseover', function (e) {
        var o = e.layer.options, h = '<b>' + G.fmt(o.gcTotal, d.lang) + '</b> ' + d.unit;
        for (var t = 0; t < o.gcCounts.length; t++) {
          if (o.gcCounts[t]) { h += '<br>' + d.tierNames[t] + ': ' + G.fmt(o.gcCounts[t], d.lang); }
        }
        if (!e.layer.getTooltip()) { e.layer.bindTooltip(h, { sticky: true }); }
        e.layer.openTooltip(e.latlng);
      });
      return g;
    };
    var pick = function () {
      var z = map.getZoom(), li = 0;
      for (var k = 0; k < d.levels.length; k++) { if (z >= d.levels[k].zmin) { li = k; } }
      if (li === shown) { return; }
      if (shown >= 0) { group.removeLayer(built[shown]); }
      if (!built[li]) { built[li] = build(li); }
      group.addLayer(built[li]); shown = li;
    };
    map.on('zoomend', pick);
    pick();
  };
  // service discs (metres) of one tier's points, built the first time the layer is shown
  G.discs = function (map, group, d, tier, radius, colour) {
    var built = false;
    group.on('add', function () {
      if (built) { return; }
      built = true;
      var r = G.renderer(map);
      for (var i = 0; i < d.x.length; i++) {
        if (d.t[i] !== tier) { continue; }
        group.addLayer(L.circle(G.latlng(d, i), { renderer: r, radius: radius, color: colour,
          weight: 0.6, opacity: 0.6, fillColor: colour, fillOpacity: 0.12, interactive: false }));
      }
    });
  };
  // a number as the maps' Python formats it (i18n.Translator.number: "," and "." in both
  // languages); spec: {kind: 'km' | 'money' | 'qty', unit}
  G.num = function (v, digits) {
    return Number(v).toLocaleString('en-US', { minimumFractionDigits: digits,
                                               maximumFractionDigits: digits });
  };
  G.fmtValue = function (v, spec) {
    if (v === null || v === undefined || !isFinite(v)) { return '–'; }
    if (spec.kind === 'km') { return G.num(v / 1000, v < 100000 ? 1 : 0) + ' ' + spec.unit; }
    if (spec.kind === 'money') { return '¥' + G.num(v, 0); }
    return G.num(v, v >= 100 ? 0 : 1);
  };
  // analysis cells (gaps, density) drawn from the vector tiles of the kept result instead of
  // embedded GeoJSON: filled by the class of one property (o.breaks: the inner class edges,
  // o.colours one per class; a missing value takes class o.missing, or is not drawn), with
  // the tooltip the GeoJSON layer had (o.label: escaped HTML; the value formatted by o.fmt)
  G.cellTiles = function (map, url, o) {
    var classOf = function (v) {
      if (v === null || v === undefined) { return o.missing; }
      if (o.positive && !(v > 0)) { return null; }
      var i = 0;
      while (i < o.breaks.length && v >= o.breaks[i]) { i++; }
      return i;
    };
    var style = function (p) {
      var k = classOf(p[o.field]);
      if (k === null || k === undefined) { return []; }
      var s = { fill: true, fillColor: o.colours[k], stroke: true };
      for (var key in o.style) { if (o.style.hasOwnProperty(key)) { s[key] = o.style[key]; } }
      return s;
    };
    var styles = {};
    styles[o.layer] = style;
    var layer = L.vectorGrid.protobuf(url, {
      rendererFactory: L.canvas.tile, interactive: true, pane: o.pane || 'overlayPane',
      maxNativeZoom: o.maxNativeZoom || 14, fetchOptions: { credentials: 'same-origin' },
      vectorTileLayerStyles: styles
    });
    G.tileLayers.push(layer);
    G.tileTip(map, layer, function (p) {
      return G.table(null, [o.label], [G.fmtValue(p[o.field], o.fmt)]);
    });
    return layer;
  };
  // a tooltip following the pointer over a vector-tile layer's features: html(properties)
  G.tileTip = function (map, layer, html) {
    var tip = L.tooltip({ sticky: true, direction: 'auto' });
    layer.on('mouseover', function (e) {
      tip.setContent(html(e.layer.properties));
      tip.setLatLng(e.latlng);
      map.openTooltip(tip);
    });
    layer.on('mousemove', function (e) { tip.setLatLng(e.latlng); });
    layer.on('mouseout', function () { map.closeTooltip(tip); });
    return tip;
  };
  // a shape two GeoJSON layers draw is embedded once (maps.base.RegionMap: the sub-regions'
  // outlines, then a choropleth of them): a feature with a key ("gc") and a geometry keeps
  // it, a later feature with the same key and no geometry borrows it (Leaflet skips a
  // collection's features without geometry, so they are filled in before it looks)
  G.shapes = {};
  var shape = function (f) {
    if (!f || !f.gc) { return f; }
    if (f.geometry) { G.shapes[f.gc] = f.geometry; return f; }
    return G.shapes[f.gc] ? L.extend({}, f, { geometry: G.shapes[f.gc] }) : f;
  };
  var addData = L.GeoJSON.prototype.addData;
  L.GeoJSON.prototype.addData = function (data) {
    if (data && Array.isArray(data.features)) {
      data = L.extend({}, data, { features: data.features.map(shape) });
    } else if (data && data.type === 'Feature') {
      data = shape(data);
    }
    return addData.call(this, data);
  };
  G.esc = function (s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  };
  // a large region's outlets from the outlet vector tiles (/tiles/outlets/…): below zoom 10
  // the counts per hexagon (MVT layer outlet_bins), outlined by the count of the tiers o.tiers
  // as the embedded hexagon counts are (o.breaks, o.colours; no fill: the shading under them
  // keeps its colours); from zoom 10 the outlets of those tiers, styled by tier, with a popup
  // (name, tier, code, a link to the outlet's page). Names come from the tiles: escaped here.
  G.outletTiles = function (map, url, o) {
    var shown = {};
    for (var k = 0; k < o.tiers.length; k++) { shown[o.tiers[k]] = true; }
    var total = function (p) {
      var n = 0;
      for (var i = 0; i < o.tiers.length; i++) { n += p[o.tiers[i]] || 0; }
      return n;
    };
    var colour = function (n) {
      for (var i = o.breaks.length - 1; i >= 0; i--) { if (n >= o.breaks[i]) { return o.colours[i]; } }
      return o.colours[0];
    };
    var layer = L.vectorGrid.protobuf(url, {
      rendererFactory: L.canvas.tile, interactive: true, maxNativeZoom: 16,
      fetchOptions: { credentials: 'same-origin' },
      vectorTileLayerStyles: {
        outlet_bins: function (p) {
          var n = total(p);
          if (!n) { return []; }
          return { stroke: true, color: colour(n), weight: 1.5, opacity: 0.95,
                   fill: true, fillOpacity: 0 };
        },
        outlets: function (p) {
          var s = o.style[p.tier];
          if (!shown[p.tier] || !s) { return []; }
          return { radius: s.r, fill: true, fillColor: s.c, fillOpacity: 0.9,
                   stroke: true, color: '#ffffff', weight: 1, opacity: 0.9 };
        }
      }
    });
    G.tileLayers.push(layer);
    var tip = G.tileTip(map, layer, function (p) {
      if (p.tier) { return G.esc(p.name); }
      var h = '<b>' + G.fmt(total(p), o.lang) + '</b> ' + o.unit;
      for (var i = 0; i < o.tiers.length; i++) {
        if (p[o.tiers[i]]) { h += '<br>' + o.tierNames[o.tiers[i]] + ': ' + G.fmt(p[o.tiers[i]], o.lang); }
      }
      return h;
    });
    layer.on('click', function (e) {
      var p = e.layer.properties;
      if (!p.tier) { return; }
      map.closeTooltip(tip);
      var html = G.table(G.esc(p.name), o.head, [o.tierNames[p.tier] || G.esc(p.tier), G.esc(p.code)]);
      html += '<a class="gc-link" href="' + G.esc(o.href + encodeURIComponent(p.code)) +
              '" target="_top">' + o.open + '</a>';
      L.popup({ maxWidth: 340 }).setLatLng(e.latlng).setContent(html).openOn(map);
    });
    return layer;
  };
  // "drawn": the map's script has run and every vector-tile layer on the map has its tiles in
  // view (window.geoCrmDrawn = ms since navigation start, html[data-geo-crm-drawn]: what tests
  // and the maps benchmark wait for; a map without tile layers is drawn when its script ends)
  G.tileLayers = [];
  G.whenDrawn = function (map) {
    var done = function () {
      if (window.geoCrmDrawn) { return; }
      window.geoCrmDrawn = performance.now();
      document.documentElement.setAttribute('data-geo-crm-drawn', '1');
    };
    var waiting = G.tileLayers.filter(function (l) { return map.hasLayer(l) && l.isLoading(); });
    var left = waiting.length;
    if (!left) { done(); return; }
    waiting.forEach(function (l) { l.once('load', function () { if (--left === 0) { done(); } }); });
  };
  G.labels = function (map, items, cls) {
    var g = L.layerGroup();
    for (var i = 0; i < items.length; i++) {
      g.addLayer(L.marker([items[i][0], items[i][1]], { interactive: false, keyboard: false,
        icon: L.divIcon({ className: 'gc-label ' + (cls || ''), html: items[i][2],
                          iconSize: null }) }));
    }
    return g.addTo(map);
  };
  G.fitList = function (map, list) {
    var items = list.querySelectorAll('li[data-b]');
    var go = function (li) {
      var b = JSON.parse(li.getAttribute('data-b'));
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { maxZoom: 13, animate: false });
      if (map._gcMark) { map.removeLayer(map._gcMark); }
      map._gcMark = L.rectangle([[b[0], b[1]], [b[2], b[3]]], {
        color: '#d50000', weight: 3, fill: false,
        interactive: false, renderer: G.renderer(map) }).addTo(map);
    };
    for (var i = 0; i < items.length; i++) {
      items[i].addEventListener('click', function () { go(this); });
      items[i].addEventListener('keydown', function (e) { if (e.key === 'Enter') { go(this); } });
    }
  };
  return G;
})();
