/* Pinning a comment on a session's map (see renovation/sessions.py, PinPicker).
 *
 * Tapping the map writes the spot into the comment form's hidden lon/lat fields and
 * marks it; the status line says so with textContent. Nothing here needs more than
 * what a messaging app's built-in browser has: no geolocation, no modern-only APIs.
 */
(function () {
  'use strict';

  function byId(id) { return id ? document.getElementById(id) : null; }

  function pinPicker(map, options) {
    var lon = byId(options.lonId), lat = byId(options.latId);
    if (!lon || !lat) { return null; }  // no comment form on this page
    var status = byId(options.statusId), clear = byId(options.clearId);
    var marker = null;

    function say(text) { if (status) { status.textContent = text; } }

    function set(latlng) {
      lon.value = latlng.lng.toFixed(6);
      lat.value = latlng.lat.toFixed(6);
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.circleMarker(latlng, {radius: 10, color: '#b71c1c', weight: 3,
          fillColor: '#ffeb3b', fillOpacity: 0.9, interactive: false,
          className: 'gx-pin-new'}).addTo(map);
      }
      say((status && status.getAttribute('data-set') || '') + ' ' + lat.value + ', ' +
          lon.value);
      if (clear) { clear.hidden = false; }
    }

    function unset() {
      lon.value = '';
      lat.value = '';
      if (marker) { map.removeLayer(marker); marker = null; }
      say(status && status.getAttribute('data-empty') || '');
      if (clear) { clear.hidden = true; }
    }

    map.on('click', function (event) {
      // A tap on an existing pin opens its popup; it does not move the new pin.
      var source = event.sourceTarget;
      if (source && source !== map && source.feature && source.feature.properties &&
          source.feature.properties.pin) { return; }
      set(event.latlng);
    });
    if (clear) { clear.addEventListener('click', unset); }
    // After a refused post the page comes back with the pin the resident had set.
    var x = parseFloat(lon.value), y = parseFloat(lat.value);
    if (isFinite(x) && isFinite(y)) { set(L.latLng(y, x)); } else { unset(); }
    return {set: set, unset: unset};
  }

  window.GengxinSessionMap = {pinPicker: pinPicker};
})();
