/* s2sr map page: layers from /layers and /scenes, footprint, model card, tools. No external URL. */
(function () {
  "use strict";
  var SPLIT_COLOURS = { train: "#1f78b4", val: "#ff7f00", test: "#e31a1c" };

  function getJSON(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
      return r.json();
    });
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function fmt(v) { return typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4)) : String(v); }
  var LOWER_IS_BETTER = /sam|ergas|rmse|mae|loss|lpips|consistency/i; // train "consistency" is an RMSE

  var map = L.map("map", { zoomControl: true, attributionControl: true, minZoom: 0, maxZoom: 22 });
  map.attributionControl.setPrefix("Leaflet (offline)");
  map.createPane("lrPane").style.zIndex = 250;
  map.createPane("srPane").style.zIndex = 260;
  map.createPane("confPane").style.zIndex = 270; // SR confidence: above the imagery, not clipped by the swipe
  L.control.scale({ metric: true, imperial: false }).addTo(map);
  var swipe = new window.S2SRSwipe(map, map.getPane("srPane"), document.getElementById("swipe-handle"));

  var nativeMax = 18;
  function tileLayer(l) {
    return L.tileLayer(l.tiles, {
      pane: l.role === "sr" ? "srPane" : l.role === "conf" ? "confPane" : "lrPane",
      bounds: L.latLngBounds([l.bounds[1], l.bounds[0]], [l.bounds[3], l.bounds[2]]),
      minZoom: 0, maxZoom: 22, maxNativeZoom: nativeMax, tileSize: 256,
      attribution: l.attribution || ""  // from the file's tags (see /layers): never assumed
    });
  }
  function footprintLayer(fc) {
    return L.geoJSON(fc, {
      style: function (f) {
        var c = SPLIT_COLOURS[(f.properties || {}).split] || "#777";
        return { color: c, weight: 1.5, fillColor: c, fillOpacity: 0.12 };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties || {};
        var box = el("div");
        box.appendChild(el("b", {}, "patch " + (p.id !== undefined ? p.id : "?")));
        box.appendChild(el("div", {}, "split: " + (p.split || "?")));
        if (p.pair !== undefined) { box.appendChild(el("div", {}, "pair: " + p.pair)); }
        if (p.scene !== undefined) { box.appendChild(el("div", {}, "scene: " + p.scene)); }
        layer.bindPopup(box);
      }
    });
  }

  function cardPanel(cards) {
    var ctl = L.control({ position: "bottomleft" });
    ctl.onAdd = function () {
      var div = el("div", { "class": "s2sr-panel s2sr-card", id: "model-card" });
      var head = el("h3", {}, "Model card \u25be");
      head.style.cursor = "pointer";
      var body = el("div", { "class": "s2sr-card-body" });
      head.addEventListener("click", function () { body.classList.toggle("collapsed"); });
      div.appendChild(head); div.appendChild(body);
      var names = Object.keys(cards).filter(function (k) { return cards[k]; });
      if (!names.length) { body.appendChild(el("div", {}, "No model card given (--model-card)."));}
      names.forEach(function (name) {
        var c = cards[name];
        if (names.length > 1) { body.appendChild(el("h3", {}, name)); }
        var t = el("table");
        [["source", c.source], ["arch", c.arch], ["scale", c.scale ? "x" + c.scale : null],
         ["bands", (c.bands || []).join(", ")], ["input res", c.input_res ? c.input_res + " m" : null]]
          .forEach(function (r) {
            if (r[1] === null || r[1] === undefined || r[1] === "") { return; }
            var tr = el("tr"); tr.appendChild(el("th", {}, r[0])); tr.appendChild(el("td", {}, r[1])); t.appendChild(tr);
          });
        body.appendChild(t);
        if ((c.vs_bicubic || []).length) {
          var m = el("table"); var h = el("tr");
          ["metric (val)", "model", "bicubic"].forEach(function (s) { h.appendChild(el("th", {}, s)); });
          m.appendChild(h);
          c.vs_bicubic.forEach(function (r) {
            var better = LOWER_IS_BETTER.test(r.metric) ? r.model < r.bicubic : r.model > r.bicubic;
            var tr = el("tr"); tr.appendChild(el("td", {}, r.metric));
            tr.appendChild(el("td", { "class": better ? "win" : "lose" }, fmt(r.model)));
            tr.appendChild(el("td", {}, fmt(r.bicubic))); m.appendChild(tr);
          });
          body.appendChild(m);
        }
        if (c.markdown) { body.appendChild(el("pre", {}, c.markdown)); }
      });
      L.DomEvent.disableClickPropagation(div); L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    return ctl;
  }

  function legendControl(l) {
    var ctl = L.control({ position: "bottomright" });
    ctl.onAdd = function () {
      var g = l.legend;
      var div = el("div", { "class": "s2sr-panel s2sr-legend", id: "legend-" + l.scene + "-" + l.id });
      div.appendChild(el("h3", {}, g.title));
      var bar = el("div", { "class": "s2sr-legend-bar" });
      bar.style.background = "linear-gradient(to right, " + g.colours.join(", ") + ")";
      div.appendChild(bar);
      var ticks = el("div", { "class": "s2sr-legend-ticks" });
      ticks.appendChild(el("span", {}, fmt(g.min)));
      ticks.appendChild(el("span", {}, fmt((g.min + g.max) / 2)));
      ticks.appendChild(el("span", {}, fmt(g.max) + "+"));
      div.appendChild(ticks);
      div.appendChild(el("div", { "class": "s2sr-legend-note" }, g.note));
      return div;
    };
    return ctl;
  }

  function coordsControl() {
    var ctl = L.control({ position: "bottomright" });
    ctl.onAdd = function () {
      var div = el("div", { "class": "s2sr-panel s2sr-coords", id: "mouse-coords" }, "lat, lon");
      map.on("mousemove", function (e) {
        div.textContent = e.latlng.lat.toFixed(6) + ", " + e.latlng.lng.toFixed(6) + "  z" + map.getZoom();
      });
      return div;
    };
    return ctl;
  }

  function toolsControl(srLayers, dataBounds) {
    var ctl = L.control({ position: "topleft" });
    ctl.onAdd = function () {
      var div = el("div", { "class": "s2sr-panel s2sr-tools", id: "tools" });
      var sw = el("label"); var cb = el("input", { type: "checkbox", id: "swipe-toggle" });
      sw.appendChild(cb); sw.appendChild(document.createTextNode(" swipe High-Res | original"));
      cb.addEventListener("change", function () { swipe.setEnabled(cb.checked); });
      var op = el("label", {}, "High-Res opacity ");
      var range = el("input", { type: "range", min: "0", max: "100", value: "100", id: "opacity" });
      range.addEventListener("input", function () {
        srLayers.forEach(function (l) { l.setOpacity(range.value / 100); });
      });
      op.appendChild(range);
      var zb = el("button", { type: "button", id: "zoom-to-data" }, "Zoom to data");
      zb.addEventListener("click", function () { map.fitBounds(dataBounds); });
      div.appendChild(sw); div.appendChild(op); div.appendChild(zb);
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    return ctl;
  }

  Promise.all([getJSON("/layers"), getJSON("/scenes"), getJSON("/model")]).then(function (res) {
    var layers = res[0], scenes = res[1], cards = res[2];
    var overlays = {}, srLayers = [], bounds = null;
    nativeMax = Math.min(22, 2 + Math.max.apply(null, layers.map(function (l) { return l.maxzoom; }).concat([0])));
    layers.forEach(function (l) {
      var tl = tileLayer(l);
      overlays[l.name] = tl;
      if (l.role === "sr") { srLayers.push(tl); }
      if (l.role === "conf" && l.legend) { // the legend shows while the layer is on
        var legend = legendControl(l);
        tl.on("add", function () { legend.addTo(map); });
        tl.on("remove", function () { legend.remove(); });
      }
      if (l.id === "sr_rgb" || l.id === "lr_rgb") { tl.addTo(map); }
      var b = L.latLngBounds([l.bounds[1], l.bounds[0]], [l.bounds[3], l.bounds[2]]);
      bounds = bounds ? bounds.extend(b) : b;
    });
    var pending = scenes.filter(function (s) { return s.footprint; }).map(function (s) {
      return getJSON(s.footprint).then(function (fc) {
        var fl = footprintLayer(fc).addTo(map);
        overlays[s.footprint_name] = fl;
      });
    });
    Promise.all(pending).then(function () {
      L.control.layers(null, overlays, { collapsed: false }).addTo(map);
      document.body.setAttribute("data-ready", "1");
    });
    if (bounds) { map.fitBounds(bounds); } else { map.setView([0, 0], 2); }
    toolsControl(srLayers, bounds).addTo(map);
    coordsControl().addTo(map);
    cardPanel(cards).addTo(map);
    window.s2srMap = map;
    window.s2srSwipe = swipe;
  }).catch(function (err) {
    document.body.setAttribute("data-error", String(err));
    console.error("s2sr map: " + err);
  });
})();
