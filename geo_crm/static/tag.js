// geo_crm /tag: pick an outlet, locate yourself, correct on the map, submit (PUT to the JSON API).
// Positions from the API and the phone are WGS-84; the map draws in the basemap's system
// (GCJ-02 for AMap tiles), and a point picked on such a map is sent with crs=gcj02.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("tag-config").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var S = cfg.strings;
  function t(key, vals) {
    var s = S[key] || key;
    if (vals) Object.keys(vals).forEach(function (k) { s = s.replace("{" + k + "}", vals[k]); });
    return s;
  }
  function $(id) { return document.getElementById(id); }

  // --- WGS-84 -> GCJ-02 (the published forward formula) for display on Chinese basemaps ---
  var A = 6378245.0, EE = 0.00669342162296594323;
  function outOfChina(lon, lat) { return !(lon > 73.66 && lon < 135.05 && lat > 3.86 && lat < 53.55); }
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    return r + (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
  }
  function tLon(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    return r + (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
  }
  function toDisplay(lat, lon) {
    if (cfg.basemap.crs !== "gcj02" || outOfChina(lon, lat)) return [lat, lon];
    var dLat = tLat(lon - 105, lat - 35), dLon = tLon(lon - 105, lat - 35);
    var rad = lat / 180 * Math.PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), sm = Math.sqrt(magic);
    dLat = (dLat * 180) / ((A * (1 - EE)) / (magic * sm) * Math.PI);
    dLon = (dLon * 180) / (A / sm * Math.cos(rad) * Math.PI);
    return [lat + dLat, lon + dLon];
  }

  // --- state -------------------------------------------------------------------------------
  var me = null;        // {lat, lon, accuracy, time}: the phone's last fix, WGS-84
  var current = null;   // the outlet being tagged (from the list API), or null for a new outlet
  var pick = null;      // {lat, lon, crs, source, accuracy, time}: what will be sent
  var map = null, layers = {};

  function message(text, kind) {
    var el = $("message");
    el.textContent = text || "";
    el.className = text ? (kind || "ok") : "";
    if (text) el.scrollIntoView({block: "nearest"});
  }

  function api(method, url, body) {
    var opts = {method: method, credentials: "same-origin",
                headers: {"Accept": "application/json", "X-CSRFToken": csrf}};
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        return {status: resp.status, data: data};
      });
    });
  }

  function errorText(data) {
    var err = (data && data.error) || {};
    var fields = err.fields ? Object.keys(err.fields).map(function (k) {
      return k.replace(/^(body|query)\./, "") + ": " + err.fields[k];
    }) : [];
    return fields.length ? fields.join("; ") : (err.message || "error");
  }

  // --- the list ------------------------------------------------------------------------------
  var searchTimer = null;
  function loadList() {
    var params = new URLSearchParams();
    var q = $("search").value.trim();
    if (q) params.set("q", q);
    if (me) { params.set("lat", me.lat); params.set("lon", me.lon); }
    return api("GET", cfg.api.outlets + "?" + params.toString()).then(function (r) {
      if (r.status !== 200) { message(errorText(r.data), "err"); return; }
      renderList(r.data);
    }, function () { message(t("Network error: check the connection and try again."), "err"); });
  }

  function distanceText(m) {
    if (m === null || m === undefined) return "";
    return m >= 1000 ? (m / 1000).toFixed(1) + " " + t("km") : Math.round(m) + " " + t("m");
  }

  function renderList(outlets) {
    var ul = $("outlets");
    ul.textContent = "";
    if (!outlets.length) {
      var li = document.createElement("li");
      li.className = "muted";
      li.textContent = t("No outlets.");
      ul.appendChild(li);
    }
    outlets.forEach(function (o) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.dataset.code = o.code;
      var left = document.createElement("span");
      var name = document.createElement("strong");
      name.textContent = o.name;
      var sub = document.createElement("div");
      sub.className = "muted";
      sub.textContent = o.code + " · " + tierName(o.tier);
      left.appendChild(name); left.appendChild(sub);
      var right = document.createElement("span");
      if (!o.location) { right.className = "badge"; right.textContent = t("Not geotagged"); }
      else { right.className = "muted"; right.textContent = distanceText(o.distance_m); }
      b.appendChild(left); b.appendChild(right);
      b.addEventListener("click", function () { openOutlet(o); });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }

  function tierName(tier) {
    for (var i = 0; i < cfg.tiers.length; i++) if (cfg.tiers[i][0] === tier) return cfg.tiers[i][1];
    return tier;
  }

  // --- the map -------------------------------------------------------------------------------
  function ensureMap() {
    if (map) return map;
    map = L.map("map", {zoomControl: true});
    if (cfg.basemap.url) {
      L.tileLayer(cfg.basemap.url, {maxZoom: cfg.basemap.maxZoom, subdomains: cfg.basemap.subdomains,
                                    attribution: cfg.basemap.attribution}).addTo(map);
    }
    map.on("click", function (e) { setPick(e.latlng.lat, e.latlng.lng); });
    return map;
  }

  function setPick(dispLat, dispLon) {
    // a point placed by hand is in the map's own system
    pick = {lat: dispLat, lon: dispLon, crs: cfg.basemap.crs, source: "map", accuracy: null,
            time: new Date().toISOString()};
    drawPick();
  }

  function drawPick() {
    if (layers.pick) map.removeLayer(layers.pick);
    $("submit").disabled = !pick;
    if (!pick) return;
    var ll = pick.crs === "wgs84" ? toDisplay(pick.lat, pick.lon) : [pick.lat, pick.lon];
    layers.pick = L.marker(ll, {draggable: true, title: t("New position")}).addTo(map);
    layers.pick.on("dragend", function (e) { var p = e.target.getLatLng(); setPick(p.lat, p.lng); });
  }

  function drawCurrent() {
    if (layers.current) { map.removeLayer(layers.current); layers.current = null; }
    if (current && current.location) {
      layers.current = L.circleMarker(toDisplay(current.location.lat, current.location.lon),
        {radius: 8, color: "#555", fillColor: "#999", fillOpacity: 0.8}).bindTooltip(t("Current position")).addTo(map);
    }
  }

  function drawMe() {
    if (layers.me) { map.removeLayer(layers.me); layers.me = null; }
    if (!me) return;
    var ll = toDisplay(me.lat, me.lon);
    layers.me = L.layerGroup([
      L.circle(ll, {radius: me.accuracy, color: "#1a73e8", weight: 1, fillOpacity: 0.12}),
      L.circleMarker(ll, {radius: 6, color: "#fff", weight: 2, fillColor: "#1a73e8", fillOpacity: 1})
    ]).addTo(map);
  }

  function frame() {
    var pts = [];
    if (current && current.location) pts.push(toDisplay(current.location.lat, current.location.lon));
    if (me) pts.push(toDisplay(me.lat, me.lon));
    if (pick) pts.push(pick.crs === "wgs84" ? toDisplay(pick.lat, pick.lon) : [pick.lat, pick.lon]);
    if (pts.length === 1) map.setView(pts[0], 17);
    else if (pts.length > 1) map.fitBounds(pts, {padding: [30, 30], maxZoom: 18});
    else map.setView([35, 105], 4);
  }

  // --- views ---------------------------------------------------------------------------------
  function showDetail(title, sub, isNew) {
    $("list-view").hidden = true; $("list-actions").hidden = true;
    $("detail-view").hidden = false; $("detail-actions").hidden = false;
    $("new-form").hidden = !isNew;
    $("outlet-title").textContent = title;
    $("outlet-sub").textContent = sub;
    $("submit").textContent = isNew ? t("Create outlet") : t("Submit location");
    ensureMap();
    setTimeout(function () { map.invalidateSize(); drawCurrent(); drawMe(); drawPick(); frame(); }, 0);
  }

  function showList() {
    current = null; pick = null;
    $("detail-view").hidden = true; $("detail-actions").hidden = true;
    $("list-view").hidden = false; $("list-actions").hidden = false;
    loadList();
  }

  function openOutlet(o) {
    current = o; pick = null;
    message("");
    showDetail(o.name, o.code + " · " + tierName(o.tier) + (o.location ? "" : " · " + t("Not geotagged")), false);
  }

  function openNew() {
    current = null; pick = null;
    message("");
    showDetail(t("New outlet here"), "", true);
    if (me) usePosition();
    loadParents();
  }

  // --- geolocation ---------------------------------------------------------------------------
  function locate(opts) {
    return new Promise(function (resolve, reject) {
      if (!navigator.geolocation) { reject({code: 0, message: "no geolocation"}); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        me = {lat: pos.coords.latitude, lon: pos.coords.longitude,
              accuracy: Math.max(0, pos.coords.accuracy || 0), time: new Date(pos.timestamp || Date.now()).toISOString()};
        resolve(me);
      }, reject, opts);
    });
  }

  function usePosition() {
    pick = {lat: me.lat, lon: me.lon, crs: "wgs84", source: "gps", accuracy: me.accuracy, time: me.time};
    drawMe(); drawPick(); frame();
    $("fix").textContent = t("Accuracy {m} m", {m: Math.round(me.accuracy)}) + " · " +
      t("Tap the map or drag the pin to correct the point.");
  }

  function onLocate() {
    var btn = $("locate");
    btn.disabled = true; btn.textContent = t("Locating…");
    locate({enableHighAccuracy: true, timeout: 20000, maximumAge: 0}).then(function () {
      usePosition(); message("");
    }, function (err) {
      message(err && err.code === 1 ? t("Location permission denied. Tap the map to place the point.")
                                    : t("Location unavailable: {reason}", {reason: (err && err.message) || ""}), "err");
    }).then(function () { btn.disabled = false; btn.textContent = t("Use my location"); });
  }

  // --- submit --------------------------------------------------------------------------------
  function pointBody() {
    var body = {lat: pick.lat, lon: pick.lon, crs: pick.crs, source: pick.source, captured_at: pick.time};
    if (pick.accuracy !== null) body.accuracy_m = pick.accuracy;
    return body;
  }

  function flagText(flags) {  // one sentence per kind of flag, however many outlets raised it
    var seen = {}, out = [];
    flags.forEach(function (f) {
      if (seen[f.code]) return;
      seen[f.code] = true;
      out.push(cfg.flags[f.code] || f.message);
    });
    return out.join(" ");
  }

  function onSubmit() {
    if (!pick) return;
    var btn = $("submit");
    btn.disabled = true; var label = btn.textContent; btn.textContent = t("Sending…");
    var req;
    if (current) {
      var body = pointBody(); body.version = current.version;
      req = api("PUT", cfg.api.location.replace("__CODE__", encodeURIComponent(current.code)), body);
    } else {
      var nb = pointBody();
      nb.name = $("new-name").value.trim(); nb.tier = $("new-tier").value;
      var parent = $("new-parent").value; if (parent) nb.parent_code = parent;
      var notes = $("new-notes").value.trim(); if (notes) nb.notes = notes;
      req = api("POST", cfg.api.create, nb);
    }
    req.then(function (r) {
      if (r.status === 200 || r.status === 201) {
        var o = r.data.outlet;
        if (current) { current.version = o.version; current.location = o.location; drawCurrent(); }
        var head = r.status === 201 ? t("Outlet {code} created.", {code: o.code}) + " " : "";
        if (r.data.flags && r.data.flags.length) message(head + t("Saved, flagged for review:") + " " + flagText(r.data.flags), "warn");
        else message(head + t("Saved."), "ok");
        if (r.status === 201) { current = {code: o.code, name: o.name, tier: o.tier, version: o.version, location: o.location}; $("new-form").hidden = true; }
        pick = null; drawPick();
      } else if (r.status === 409) {
        var cur = r.data.error && r.data.error.detail && r.data.error.detail.current;
        if (cur && current) { current.version = cur.version; current.location = cur.location; drawCurrent(); }
        message(t("Someone changed this outlet meanwhile. The list was reloaded; check and submit again."), "err");
      } else if (r.status === 401) {
        window.location.href = "/login?next=/tag";
      } else {
        message(errorText(r.data), "err");
      }
    }, function () {
      message(t("Network error: check the connection and try again."), "err");
    }).then(function () { btn.textContent = label; btn.disabled = !pick; });
  }

  // --- new outlet: tiers and parent search ----------------------------------------------------
  cfg.tiers.forEach(function (pair) {
    var opt = document.createElement("option");
    opt.value = pair[0]; opt.textContent = pair[1];
    if (pair[0] === "retail") opt.selected = true;
    $("new-tier").appendChild(opt);
  });
  var parentTimer = null;
  function loadParents() {
    var params = new URLSearchParams({tier: $("new-tier").value});
    var q = $("parent-search").value.trim(); if (q) params.set("q", q);
    api("GET", cfg.api.parents + "?" + params.toString()).then(function (r) {
      var sel = $("new-parent");
      var keep = sel.value;
      sel.textContent = "";
      var none = document.createElement("option"); none.value = ""; none.textContent = t("None"); sel.appendChild(none);
      (r.status === 200 ? r.data : []).forEach(function (p) {
        var opt = document.createElement("option");
        opt.value = p.code; opt.textContent = p.name + " (" + p.code + " · " + tierName(p.tier) + ")";
        sel.appendChild(opt);
      });
      sel.value = keep;
    });
  }

  // --- wiring --------------------------------------------------------------------------------
  $("search").addEventListener("input", function () { clearTimeout(searchTimer); searchTimer = setTimeout(loadList, 250); });
  $("back").addEventListener("click", showList);
  $("locate").addEventListener("click", onLocate);
  $("submit").addEventListener("click", onSubmit);
  $("new-outlet").addEventListener("click", openNew);
  $("new-tier").addEventListener("change", loadParents);
  $("parent-search").addEventListener("input", function () { clearTimeout(parentTimer); parentTimer = setTimeout(loadParents, 250); });

  loadList();
  // a quick, coarse fix orders the list by distance; "use my location" asks for a precise one
  locate({enableHighAccuracy: false, timeout: 8000, maximumAge: 120000}).then(loadList, function () {});
})();
