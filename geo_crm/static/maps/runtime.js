window.GeoCrm = window.GeoCrm || (function () {
  var G = {};
  G.renderer = function (map) {
    if (!map._gcCanvas) { map._gcCanvas = L.canvas({ padding: 0.5, tolerance: 3 }); }
    return map._gcCanvas;
  };
  G.legendBox = function (map) {
    if (!map._gcLegendBox) {
      var c = L.control({ position: 'bottomleft' });
      c.onAdd = function () {
        var d = L.DomUtil.create('div', 'gc-legends');
        L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d);
        return d;
      };
      c.addTo(map);
      map._gcLegendBox = c.getContainer();
    }
    return map._gcLegendBox;
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
  // outlets counted per hexagon (axial q/r in EPSG:3857 metres), one level per zoom band
  G.hexes = function (map, group, d) {
    var r = G.renderer(map), SM = L.Projection.SphericalMercator, shown = -1, built = {};
    var colour = function (n) {
      for (var k = d.breaks.length - 1; k >= 0; k--) {
        if (n >= d.breaks[k]) { return d.colours[k]; }
      }
      return d.colours[0];
    };
    var build = function (li) {
      var lv = d.levels[li], g = L.layerGroup(), s = lv.size, w = Math.sqrt(3) * s;
      for (var i = 0; i < lv.q.length; i++) {
        var cx = d.origin[0] + w * (lv.q[i] + lv.r[i] / 2), cy = d.origin[1] + 1.5 * s * lv.r[i];
        var ring = [], total = 0, counts = lv.c[i];
        for (var k = 0; k < 6; k++) {
          var a = Math.PI / 180 * (60 * k + 30);
          ring.push(SM.unproject(L.point(cx + s * Math.cos(a), cy + s * Math.sin(a))));
        }
        for (var t = 0; t < counts.length; t++) { total += counts[t]; }
        var p = L.polygon(ring, { renderer: r, weight: 0.5, color: '#ffffff',
                                  fillColor: colour(total),
                                  fillOpacity: 0.75, gcCounts: counts, gcTotal: total });
        g.addLayer(p);
      }
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
