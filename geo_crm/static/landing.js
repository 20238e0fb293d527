// geo_crm landing map: the regions vector tiles (/tiles/regions/…) coloured by one figure per
// region (/landing/figures), a legend, click to open a region's page, a search box
// (/landing/search) that jumps to a region or an outlet. Leaflet + Leaflet.VectorGrid (vendored).
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("landing-config").textContent);
  var S = cfg.strings;
  // a stored moment (ISO 8601, UTC) in the display zone with its offset, as the server's
  // pages show times (i18n.Translator.datetime): "2026-12-07 10:14 UTC+8"
  function moment(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    try {
      var p = {};
      new Intl.DateTimeFormat("en-GB", {timeZone: cfg.zone, year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
        timeZoneName: "shortOffset"}).formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + " " +
        p.timeZoneName.replace(/^GMT/, "UTC").replace(/^UTC([+-]0)?$/, "UTC");
    } catch (e) {
      return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
    }
  }
  function t(key, vals) {
    var s = S[key] || key;
    if (vals) Object.keys(vals).forEach(function (k) { s = s.replace("{" + k + "}", vals[k]); });
    return s;
  }
  function $(id) { return document.getElementById(id); }

  // (Leaflet.VectorGrid's fakeStop shim: static/vectorgrid_shim.js, loaded before this file)

  var TITLES = {coverage: "Coverage %", sales: "Sales this year", plan: "Plan achievement to date",
                outlets: "Outlets", gaps: "Gap cells"};
  // light to dark; gaps read the other way (more gap cells is worse)
  var PALETTE = ["#edf8fb", "#b3cde3", "#8c96c6", "#8856a7", "#810f7c"];
  var GAP_PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  var NO_DATA = "#dddddd";
  var TIER_COLOURS = {distributor: "#d62728", wholesaler_2: "#ff7f0e", wholesaler_3: "#1f77b4", retail: "#2ca02c"};

  var status = $("map-status"), select = $("figure");
  var state = {figure: select.value, level: null, values: {}, breaks: [], asOf: null, request: 0};

  var map = L.map("landing-map", {minZoom: 2, maxZoom: 16, worldCopyJump: false});
  if (cfg.basemap.url) {
    L.tileLayer(cfg.basemap.url, {attribution: cfg.basemap.attribution, subdomains: cfg.basemap.subdomains,
                                  maxZoom: cfg.basemap.maxZoom}).addTo(map);
  }

  function levelFor(z) { return z <= 5 ? "province" : (z <= 8 ? "city" : "district"); }

  function format(v) {
    if (v === null || v === undefined) return t("No data");
    var unit = state.unit;
    if (unit === "ratio") return (100 * v).toLocaleString(cfg.lang === "zh" ? "zh-CN" : "en", {maximumFractionDigits: 1}) + " %";
    if (unit === "yuan") return "¥" + Math.round(v).toLocaleString(cfg.lang === "zh" ? "zh-CN" : "en");
    return Math.round(v).toLocaleString(cfg.lang === "zh" ? "zh-CN" : "en");
  }

  function computeBreaks(values) {
    var xs = Object.keys(values).map(function (k) { return values[k]; })
      .filter(function (v) { return v !== null && v !== undefined; }).sort(function (a, b) { return a - b; });
    if (!xs.length) return [];
    var out = [];
    for (var i = 1; i < 5; i++) {
      var q = xs[Math.min(xs.length - 1, Math.floor(i * xs.length / 5))];
      // a break at the smallest value would open the legend with a class nothing is in
      // ("< 0" outlets when some regions have none)
      if (q > xs[0] && (!out.length || q > out[out.length - 1])) out.push(q);
    }
    return out;  // class i: value < out[i] (the last class: ≥ the last break)
  }

  function colour(v) {
    if (v === null || v === undefined) return NO_DATA;
    var pal = state.figure === "gaps" ? GAP_PALETTE : PALETTE, i = 0;
    while (i < state.breaks.length && v >= state.breaks[i]) i++;
    return pal[Math.min(i + (5 - 1 - state.breaks.length), pal.length - 1)];
  }

  function regionStyle(p) {
    var v = state.values[p.code];
    return {fill: true, fillColor: colour(v), fillOpacity: 0.72, color: "#555", weight: 0.8, opacity: 0.9};
  }

  var regions = L.vectorGrid.protobuf(cfg.urls.tiles, {
    rendererFactory: L.canvas.tile,
    interactive: true,  // tiles fetched at every zoom: over-zoomed canvases miss their clicks
    fetchOptions: {credentials: "same-origin"},
    // a region's outline and its label point (MVT layer region_labels, not drawn here) carry
    // the same code: only the outline takes it, so restyle() recolours outlines and never
    // draws a label point as a filled circle (points are vector-tile type 1)
    getFeatureId: function (f) { return f.type === 1 ? "label:" + f.properties.code : f.properties.code; },
    vectorTileLayerStyles: {
      regions: function (p) { return regionStyle(p); },
      region_labels: function () { return []; }
    }
  }).addTo(map);

  var outlets = L.vectorGrid.protobuf(cfg.urls.tiles.replace("/regions/", "/outlets/"), {
    rendererFactory: L.canvas.tile,
    minZoom: 10,
    maxNativeZoom: 16,
    fetchOptions: {credentials: "same-origin"},
    vectorTileLayerStyles: {
      outlet_bins: function () { return []; },
      outlets: function (p) {
        return {radius: 3, fill: true, fillColor: TIER_COLOURS[p.tier] || "#444", fillOpacity: 0.9,
                color: "#fff", weight: 0.6};
      }
    }
  }).addTo(map);

  var hovered = null;
  regions.on("mouseover", function (e) {
    var p = e.layer.properties;
    hovered = p.code;
    status.textContent = (cfg.lang === "en" && p.name_en ? p.name_en : p.name) + " · " + t(TITLES[state.figure]) + ": " + format(state.values[p.code]);
  });
  regions.on("mouseout", function () { hovered = null; });
  regions.on("click", function (e) {
    window.location.href = cfg.urls.region.replace("__CODE__", encodeURIComponent(e.layer.properties.code));
  });

  // --- legend ----------------------------------------------------------------------------------
  var Legend = L.Control.extend({
    options: {position: "bottomright"},
    onAdd: function () {
      this._div = L.DomUtil.create("div", "legend");
      this._div.id = "landing-legend";
      L.DomEvent.disableClickPropagation(this._div);
      return this._div;
    },
    update: function () {
      var div = this._div, pal = state.figure === "gaps" ? GAP_PALETTE : PALETTE;
      div.textContent = "";
      var title = document.createElement("strong");
      title.textContent = t(TITLES[state.figure]);
      div.appendChild(title);
      var b = state.breaks, offset = 5 - 1 - b.length;
      function row(colourValue, text) {
        var line = document.createElement("div"), sw = document.createElement("i");
        sw.style.background = colourValue;
        line.appendChild(sw);
        line.appendChild(document.createTextNode(text));
        div.appendChild(line);
      }
      if (b.length) {
        row(pal[offset], "< " + format(b[0]));
        for (var i = 1; i < b.length; i++) row(pal[offset + i], format(b[i - 1]) + " – " + format(b[i]));
        row(pal[offset + b.length], "≥ " + format(b[b.length - 1]));
      } else {  // every region has the same figure: one class, that figure
        var same = Object.keys(state.values).map(function (k) { return state.values[k]; })
          .filter(function (v) { return v !== null && v !== undefined; });
        if (same.length) row(colour(same[0]), format(same[0]));
      }
      row(NO_DATA, t("No data"));
      if (state.asOf) {
        var when = document.createElement("div");
        when.className = "muted";
        when.textContent = t("as of {time}", {time: moment(state.asOf)});
        div.appendChild(when);
      }
    }
  });
  var legend = new Legend().addTo(map);

  // --- figures ---------------------------------------------------------------------------------
  var ANALYSED = {coverage: true, gaps: true};  // analysed per region: only those in view
  function viewBox() {
    var b = map.getBounds();
    function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
            clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map(function (v) { return v.toFixed(4); }).join(",");
  }
  function loadFigures() {
    var level = levelFor(map.getZoom()), figure = select.value;
    var box = ANALYSED[figure] ? viewBox() : null;
    // the same figures already in, or on their way (fitBounds's moveend asked twice at start)
    if (level === state.level && figure === state.figure && box === state.box
        && (state.loaded || state.inflight)) return;
    state.level = level;
    state.figure = figure;
    state.box = box;
    var ticket = ++state.request;
    state.inflight = true;
    // the select stays usable: a coverage of the whole country may take a while to compute,
    // and another figure chosen meanwhile wins (the ticket drops the older answer)
    status.textContent = t("Loading…");
    var url = cfg.urls.figures + "?figure=" + encodeURIComponent(figure) + "&level=" + level
      + (box ? "&bbox=" + box : "");
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, status: r.status, body: body}; }); })
      .then(function (r) {
        if (ticket !== state.request) return;
        state.inflight = false;
        if (!r.ok) {
          state.values = {};
          state.loaded = true;
          status.textContent = r.status === 422 && r.body.error && r.body.error.fields && r.body.error.fields["query.level"]
            ? t("Zoom in to see this figure") : t("Could not load the figures");
        } else {
          state.values = r.body.values;
          state.unit = r.body.unit;
          state.asOf = r.body.as_of;
          state.loaded = true;
          status.textContent = updatingText(r.body);
        }
        state.breaks = computeBreaks(state.values);
        legend.update();
        restyle();
        state.coloured = true;
        if (!regions.isLoading()) drawn();  // else when the tiles in view are in ("load")
      })
      .catch(function () {
        if (ticket !== state.request) return;
        state.inflight = false;
        status.textContent = t("Could not load the figures");
      });
  }
  // coverage and gaps come from the analysis cache: say when some are older than the data
  function updatingText(body) {
    if (!body.updating) return "";
    var when = moment(body.as_of);
    var none = Object.keys(body.values).every(function (k) { return body.values[k] === null; });
    if (body.busy) {
      return none ? t("Being computed; the analyses are busy, open the map again later")
        : t("Figures as of {time}; the analyses are busy, they are recomputed later", {time: when});
    }
    return t("Figures as of {time}; being recomputed", {time: when});
  }
  // New figures recolour the regions already drawn, feature by feature (no tile is fetched
  // again: a redraw fetched every tile in view twice on the way in); tiles that come later
  // take the style function. A region coloured before and absent now gets "no data".
  var styled = {};
  function restyle() {
    var codes = {};
    Object.keys(styled).concat(Object.keys(state.values)).forEach(function (c) { codes[c] = true; });
    Object.keys(codes).forEach(function (c) { regions.setFeatureStyle(c, regionStyle({code: c})); });
    styled = codes;
  }
  // "drawn": the first time the regions tiles in view are all in and coloured by the figures
  // (html[data-map-drawn], window.geoCrmDrawn = ms since navigation start: tests and the maps
  // benchmark wait for it)
  function drawn() {
    if (window.geoCrmDrawn) return;
    window.geoCrmDrawn = performance.now();
    document.documentElement.setAttribute("data-map-drawn", "1");
  }
  regions.on("load", function () { if (state.coloured) drawn(); });
  select.addEventListener("change", function () { state.loaded = false; loadFigures(); });
  map.on("moveend", loadFigures);

  // open on what the caller may see
  fetch(cfg.urls.tilejson, {credentials: "same-origin", headers: {Accept: "application/json"}})
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (doc) {
      if (doc && doc.bounds) {
        var b = doc.bounds;
        map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {maxZoom: 10});
      } else {
        map.setView([35, 104], 4);
      }
      loadFigures();
    })
    .catch(function () { map.setView([35, 104], 4); loadFigures(); });

  // --- search ----------------------------------------------------------------------------------
  var input = $("search"), list = $("search-results"), timer = null, marker = null;
  function clearResults() { list.textContent = ""; }
  function jump(hit) {
    clearResults();
    input.value = hit.name;
    if (hit.kind === "region" && hit.bbox) {
      map.fitBounds([[hit.bbox[1], hit.bbox[0]], [hit.bbox[3], hit.bbox[2]]]);
    } else if (hit.kind === "outlet" && hit.lat !== null) {
      map.setView([hit.lat, hit.lon], 14);
      if (marker) map.removeLayer(marker);
      var link = document.createElement("a");
      link.href = cfg.urls.outlet.replace("__CODE__", encodeURIComponent(hit.code));
      link.textContent = hit.name + " (" + hit.code + ") · " + t("Open the outlet page");
      marker = L.circleMarker([hit.lat, hit.lon], {radius: 9, color: "#000", weight: 2, fillColor: TIER_COLOURS[hit.tier] || "#444", fillOpacity: 0.9})
        .addTo(map).bindPopup(link).openPopup();
    } else if (hit.kind === "outlet") {
      window.location.href = cfg.urls.outlet.replace("__CODE__", encodeURIComponent(hit.code));
    }
  }
  function show(results) {
    clearResults();
    if (!results.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.style.padding = ".45rem .6rem";
      none.textContent = t("No results");
      list.appendChild(none);
      return;
    }
    results.forEach(function (hit) {
      var li = document.createElement("li"), b = document.createElement("button"), what = document.createElement("span");
      b.type = "button";
      b.setAttribute("role", "option");
      b.setAttribute("data-code", hit.code);
      b.appendChild(document.createTextNode(hit.name + " (" + hit.code + ")"));
      what.className = "muted";
      what.textContent = hit.kind === "region" ? cfg.level_names[hit.level] || hit.level
        : (cfg.tiers[hit.tier] || hit.tier) + (hit.lat === null ? " · " + t("Not geotagged") : "");
      b.appendChild(what);
      b.addEventListener("click", function () { jump(hit); });
      li.appendChild(b);
      list.appendChild(li);
    });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (!q) { clearResults(); return; }
    timer = setTimeout(function () {
      fetch(cfg.urls.search + "?q=" + encodeURIComponent(q), {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { return r.ok ? r.json() : {results: []}; })
        .then(function (body) { if (input.value.trim() === q) show(body.results); })
        .catch(function () {});
    }, 250);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Escape") clearResults();
    if (e.key === "Enter") {
      e.preventDefault();
      var first = list.querySelector("button");
      if (first) first.click();
    }
  });

  // --- the region table: groups open and close, the filter box finds rows -----------------------
  // With several groups the page holds only their heads; a group's rows come from
  // /landing/rows when it is opened, every group's when the filter box is first used.
  var pending = {};
  function loadRows(group) {
    var key = group || "*";
    if (!pending[key]) {
      var lazy = document.querySelectorAll("#regions tbody.group[data-lazy]" + (group ? '[data-group="' + group + '"]' : ""));
      if (!lazy.length) return Promise.resolve();
      pending[key] = fetch(cfg.urls.rows + (group ? "?group=" + encodeURIComponent(group) : ""),
                           {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (body) {
          Array.prototype.forEach.call(lazy, function (tbody) {
            var html = body.groups[tbody.getAttribute("data-group")];
            if (html === undefined || !tbody.hasAttribute("data-lazy")) return;
            tbody.removeAttribute("data-lazy");
            tbody.querySelector("tr.head").insertAdjacentHTML("afterend", html);  // escaped by the server
          });
        })
        .catch(function () { delete pending[key]; });
    }
    return pending[key];
  }
  Array.prototype.forEach.call(document.querySelectorAll("#regions button.toggle"), function (b) {
    b.addEventListener("click", function () {
      var body = b.closest("tbody");
      loadRows(body.getAttribute("data-group")).then(function () {
        var open = body.classList.toggle("collapsed") === false;
        b.setAttribute("aria-expanded", open ? "true" : "false");
        b.textContent = open ? "▾" : "▸";
      });
    });
  });
  var filter = $("region-filter");
  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    Array.prototype.forEach.call(document.querySelectorAll("#regions tbody.group"), function (body) {
      var any = false;
      Array.prototype.forEach.call(body.querySelectorAll("tr"), function (tr) {
        var hit = !q || tr.getAttribute("data-search").indexOf(q) >= 0;
        tr.hidden = !hit && !tr.classList.contains("head");
        if (hit) any = true;
      });
      body.hidden = !any;
      if (q) body.classList.remove("collapsed");
      else if (body.querySelector("button.toggle") && body.querySelector("button.toggle").getAttribute("aria-expanded") === "false") body.classList.add("collapsed");
    });
  }
  filter.addEventListener("input", function () {
    if (!filter.value.trim()) { applyFilter(); return; }
    loadRows(null).then(applyFilter);
  });
})();
