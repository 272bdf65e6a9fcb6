/* Swipe compare: clip one Leaflet pane to the left of a draggable vertical line.
   The pane lives inside the map's moving pane, so the clip rectangle is recomputed in
   layer-point coordinates on every move/zoom. */
(function () {
  "use strict";
  function Swipe(map, pane, handle) {
    this.map = map; this.pane = pane; this.handle = handle;
    this.fraction = 0.5; this.enabled = false;
    var self = this;
    map.on("move zoom resize viewreset zoomend moveend", function () { self.update(); });
    var dragging = false;
    handle.addEventListener("pointerdown", function (e) {
      dragging = true; handle.setPointerCapture(e.pointerId); e.preventDefault();
    });
    handle.addEventListener("pointermove", function (e) {
      if (!dragging) { return; }
      var rect = map.getContainer().getBoundingClientRect();
      self.setFraction((e.clientX - rect.left) / rect.width);
    });
    handle.addEventListener("pointerup", function () { dragging = false; });
    L.DomEvent.disableClickPropagation(handle);
  }
  Swipe.prototype.setFraction = function (f) {
    this.fraction = Math.min(1, Math.max(0, f));
    this.update();
  };
  Swipe.prototype.setEnabled = function (on) {
    this.enabled = !!on;
    this.handle.classList.toggle("on", this.enabled);
    this.update();
  };
  Swipe.prototype.update = function () {
    var size = this.map.getSize();
    var x = Math.round(size.x * this.fraction);
    this.handle.style.left = x + "px";
    if (!this.enabled) { this.pane.style.clip = ""; return; }
    var nw = this.map.containerPointToLayerPoint([0, 0]);
    var se = this.map.containerPointToLayerPoint(size);
    var clipX = nw.x + x;
    this.pane.style.clip = "rect(" + [nw.y, clipX, se.y, nw.x].join("px,") + "px)";
  };
  window.S2SRSwipe = Swipe;
})();
