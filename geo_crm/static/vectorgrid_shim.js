// Leaflet.VectorGrid 1.3 (static/vectorgrid/, vendored unchanged) calls L.DomEvent.fakeStop,
// which Leaflet 1.8 removed: the same flag. The one copy, loaded after the VectorGrid bundle by
// the landing page (templates/home.html) and by every map with vector tiles (maps/assets.py).
(function () {
  "use strict";
  if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = function (e) { e._stopped = true; }; }
})();
