// geo_crm /review: every flagged geotag on one map, its old position (grey) joined to the new
// one (red); a click on either marks its row in the table, a click on a row shows it on the map.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("review-config").textContent);
  var S = cfg.strings;
  var map = L.map("review-map", {maxZoom: 19});
  if (cfg.basemap.url) {
    L.tileLayer(cfg.basemap.url, {attribution: cfg.basemap.attribution, subdomains: cfg.basemap.subdomains,
                                  maxZoom: cfg.basemap.maxZoom}).addTo(map);
  }
  var bounds = [], byId = {};
  function row(id) { return document.querySelector('#reviews tr[data-event="' + id + '"]'); }
  function pick(id) {
    Array.prototype.forEach.call(document.querySelectorAll("#reviews tr.picked"), function (tr) { tr.classList.remove("picked"); });
    var tr = row(id);
    if (tr) { tr.classList.add("picked"); tr.scrollIntoView({block: "nearest"}); }
  }
  function label(e, which) {
    var box = document.createElement("div"), b = document.createElement("b");
    b.textContent = e.name;
    box.appendChild(b);
    box.appendChild(document.createTextNode(" (" + e.outlet + ") · " + (S[which] || which)));
    return box;
  }
  cfg.events.forEach(function (e) {
    var parts = [];
    if (e.old) {
      parts.push(L.circleMarker(e.old, {radius: 6, color: "#fff", weight: 1, fillColor: "#888", fillOpacity: 0.95})
        .bindTooltip(label(e, "Old")));
      parts.push(L.polyline([e.old, e.new], {color: "#555", weight: 2, dashArray: "4 4"}));
      bounds.push(e.old);
    }
    parts.push(L.circleMarker(e.new, {radius: 7, color: "#fff", weight: 1, fillColor: "#d62728", fillOpacity: 0.95})
      .bindTooltip(label(e, "New")));
    bounds.push(e.new);
    var group = L.featureGroup(parts).addTo(map);
    group.on("click", function () { pick(e.id); });
    byId[e.id] = group;
  });
  if (bounds.length) { map.fitBounds(bounds, {padding: [30, 30], maxZoom: 16}); } else { map.setView([35, 104], 4); }
  Array.prototype.forEach.call(document.querySelectorAll("#reviews tr[data-event]"), function (tr) {
    tr.addEventListener("click", function (ev) {
      if (ev.target.closest("form")) return;
      var id = Number(tr.getAttribute("data-event")), g = byId[id];
      if (g) { map.fitBounds(g.getBounds(), {padding: [40, 40], maxZoom: 17}); pick(id); }
    });
  });
})();
