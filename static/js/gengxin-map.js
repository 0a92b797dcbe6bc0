/* The Leaflet layers of gengxin's maps (see geo/maps.py).
 *
 * Every piece of text that reaches the page goes through textContent, never
 * innerHTML: names and comments come from users and imported files.
 */
(function () {
  'use strict';

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // Only links inside the app: a feature's url must be a path, never javascript: or //host.
  function isLocalPath(url) {
    return typeof url === 'string' && url.charAt(0) === '/' && url.charAt(1) !== '/' &&
      url.charAt(1) !== '\\';
  }

  function popupContent(props) {
    var box = el('div', 'gx-popup');
    box.appendChild(el('div', 'gx-popup-title', props.title || props.label || ''));
    if (Array.isArray(props.rows) && props.rows.length) {
      var table = el('table', 'gx-popup-rows');
      props.rows.forEach(function (row) {
        var tr = el('tr');
        tr.appendChild(el('th', null, row[0]));
        tr.appendChild(el('td', null, row[1]));
        table.appendChild(tr);
      });
      box.appendChild(table);
    }
    if (isLocalPath(props.url)) {
      var link = el('a', 'gx-popup-link', props.link_text || props.url);
      link.href = props.url;
      box.appendChild(link);
    }
    return box;
  }

  function bindText(feature, layer) {
    var props = feature.properties || {};
    if (props.label) { layer.bindTooltip(el('span', null, props.label), {sticky: true}); }
    if (props.zoom_in) { return; }  // a cell of streets zooms in instead
    if (props.title || (props.rows && props.rows.length)) { layer.bindPopup(popupContent(props)); }
  }

  // A lean feature's popup is fetched when it is clicked: the view's data then
  // carries no popup text. The popup opens once its text has come.
  function bindDetail(map, layer, url) {
    var asked = false;
    layer.on('click', function () {
      if (layer.getPopup() || asked || !url) { return; }
      asked = true;
      fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
        .then(function (response) {
          if (!response.ok) { throw new Error('HTTP ' + response.status); }
          return response.json();
        })
        .then(function (data) {
          layer.bindPopup(popupContent(data.properties || {}));
          if (map.hasLayer(layer)) { layer.openPopup(); }
        })
        .catch(function () { asked = false; });
    });
  }

  // A street or a grid cell of streets at small scale: a round badge with its number
  // of communities, coloured by progress; a cell zooms in when clicked.
  function areaMarker(map, feature, latlng) {
    var props = feature.properties || {};
    var count = parseInt(props.count, 10) || 0;
    var size = Math.round(Math.min(44, 20 + 5 * Math.log(Math.max(count, 1)) / Math.LN10 * 2));
    var badge = el('span', 'gx-area-count', count);
    badge.style.background = props.fill || '#888';
    badge.style.width = badge.style.height = badge.style.lineHeight = size + 'px';
    var marker = L.marker(latlng, {
      icon: L.divIcon({className: 'gx-area gx-area-' + (props.area === 'cell' ? 'cell' : 'street'),
        html: badge, iconSize: [size, size], iconAnchor: [size / 2, size / 2]}),
      keyboard: true
    });
    if (props.zoom_in) {
      marker.on('click', function () { map.setView(latlng, Math.min(map.getZoom() + 2, 13)); });
    }
    return marker;
  }

  // Each drawn feature gets a class naming its id (gx-f-12), for styling and tests.
  function classOf(options, props) {
    var id = parseInt(props.id, 10);
    return (options.className || '') + (id > 0 ? ' gx-f-' + id : '');
  }

  function styleOf(options) {
    return function (feature) {
      var props = feature.properties || {};
      return {
        color: props.stroke || options.color || '#333',
        weight: props.stroke_width || options.weight || 1.5,
        dashArray: props.dash || null,
        fillColor: props.fill || props.stroke || '#888',
        fillOpacity: props.fill ? (options.fillOpacity === undefined ? 0.6 : options.fillOpacity) : 0,
        className: classOf(options, props)
      };
    };
  }

  function pointLayer(map, options) {
    return function (feature, latlng) {
      var props = feature.properties || {};
      if (props.area) { return areaMarker(map, feature, latlng); }
      if (options.pointStyle === 'star') {
        return L.marker(latlng, {
          icon: L.divIcon({className: 'gx-star ' + (options.className || ''), html: '\u2605',
            iconSize: [22, 22], iconAnchor: [11, 11]}),
          keyboard: true
        });
      }
      return L.circleMarker(latlng, {
        radius: props.radius || 6, color: props.point_stroke || '#fff',
        weight: props.point_stroke_width || 1.5,
        fillColor: props.fill || props.stroke || '#555', fillOpacity: 0.95,
        className: classOf(options, props)
      });
    };
  }

  // A layer of the features in view, fetched again whenever the view moves.
  // Features are kept by id and only those that left the view or changed are
  // replaced, so an open popup survives the pan that opening it caused.
  function bboxLayer(map, options) {
    var byId = {};
    var detailUrl = null;
    var layer = L.geoJSON(null, {
      style: styleOf(options), pointToLayer: pointLayer(map, options),
      onEachFeature: function (feature, drawn) {
        bindText(feature, drawn);
        var props = feature.properties || {};
        if (!props.title && !props.area && detailUrl && parseInt(props.id, 10) > 0) {
          bindDetail(map, drawn, detailUrl.replace('{id}', String(parseInt(props.id, 10))));
        }
        drawn.gxKey = feature.gxKey;
        byId[String(feature.id)] = drawn;
      }
    });
    var lastUrl = null;
    var controller = null;
    layer.featureCount = 0;
    layer.loading = false;

    function keepsPopup(drawn) { return drawn.isPopupOpen && drawn.isPopupOpen(); }

    function clear() {
      layer.clearLayers();
      byId = {};
      layer.featureCount = 0;
    }

    // A lean feature names its style (data.styles) instead of carrying it.
    function withStyle(feature, styles) {
      var props = feature.properties || {};
      if (!styles || !props.s || !Object.prototype.hasOwnProperty.call(styles, props.s)) {
        return feature;
      }
      var merged = {};
      Object.keys(styles[props.s]).forEach(function (k) { merged[k] = styles[props.s][k]; });
      Object.keys(props).forEach(function (k) { merged[k] = props[k]; });
      return {type: 'Feature', id: feature.id, geometry: feature.geometry, properties: merged};
    }

    function update(data) {
      var seen = {};
      // Streets gave way to communities or the reverse: nothing drawn before stays,
      // not even a feature whose popup is open (it would float over the other kind).
      if (layer.aggregated !== undefined && layer.aggregated !== !!data.aggregated) { clear(); }
      detailUrl = typeof data.detail === 'string' && isLocalPath(data.detail) ? data.detail : null;
      data.features.forEach(function (received) {
        var key = JSON.stringify([received.geometry, received.properties]);
        var feature = withStyle(received, data.styles);
        feature.gxKey = key;
        var id = String(feature.id);
        seen[id] = true;
        var existing = byId[id];
        if (existing) {
          if (keepsPopup(existing) || existing.gxKey === key) { return; }
          layer.removeLayer(existing);
          delete byId[id];
        }
        layer.addData(feature);
      });
      Object.keys(byId).forEach(function (id) {
        if (!seen[id] && !keepsPopup(byId[id])) {
          layer.removeLayer(byId[id]);
          delete byId[id];
        }
      });
      layer.featureCount = Object.keys(byId).length;
      layer.aggregated = !!data.aggregated;
    }

    function refresh() {
      if (!map.hasLayer(layer)) { return; }
      var zoom = Math.floor(map.getZoom());
      if (zoom < (options.minZoom || 0)) {
        clear();
        lastUrl = null;
        return;
      }
      var b = map.getBounds().pad(0.2);
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(5); }).join(',');
      var url = options.url + (options.url.indexOf('?') < 0 ? '?' : '&') +
        (options.lean ? 'lean=1&' : '') + 'bbox=' + bbox + '&zoom=' + zoom;
      if (url === lastUrl) { return; }
      lastUrl = url;
      if (controller) { controller.abort(); }
      controller = new AbortController();
      layer.loading = true;
      fetch(url, {credentials: 'same-origin', signal: controller.signal,
        headers: {'Accept': 'application/geo+json'}})
        .then(function (response) {
          if (!response.ok) { throw new Error('HTTP ' + response.status); }
          return response.json();
        })
        .then(function (data) {
          update(data);
          layer.loading = false;
          layer.fire('gx:loaded', {count: data.features.length, truncated: !!data.truncated});
        })
        .catch(function (error) {
          layer.loading = false;
          if (error.name !== 'AbortError') { layer.fire('gx:error', {error: String(error)}); }
        });
    }

    map.on('moveend', refresh);
    layer.on('add', function () { lastUrl = null; refresh(); });
    layer.on('remove', function () { clear(); lastUrl = null; });
    layer.refresh = function () { lastUrl = null; refresh(); };
    return layer;
  }

  // A small layer embedded in the page, e.g. street outlines with their names.
  function staticLayer(map, data, options) {
    var group = L.featureGroup();
    var shapes = L.geoJSON(data, {
      style: function () {
        // A transparent fill, so the whole area (not only its outline) answers the pointer.
        return {color: options.color, weight: options.weight, fill: !options.labels,
          fillOpacity: 0.04, className: options.className || ''};
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties || {};
        if (!options.labels && props.label) {
          layer.bindTooltip(el('span', null, props.label), {sticky: true});
        }
      }
    });
    group.addLayer(shapes);
    if (options.labels) {
      data.features.forEach(function (feature) {
        var props = feature.properties || {};
        if (!props.label || !props.label_point) { return; }
        var tip = L.tooltip({permanent: true, direction: 'center', className: 'gx-area-label',
          interactive: false})
          .setLatLng([props.label_point[1], props.label_point[0]])
          .setContent(el('span', null, props.label));
        group.addLayer(tip);
      });
    }
    if (options.fitBounds && (data.features.length || options.bounds)) {
      // No animation: layers would fetch once for the first view and again after it.
      // Bounds without outlines are those of points drawn as badges: leave room for them.
      var pad = options.bounds ? 28 : 8;
      map.fitBounds(options.bounds ? L.latLngBounds(options.bounds) : shapes.getBounds(),
        {padding: [pad, pad], animate: false});
    }
    return group;
  }

  function legend(map, options) {
    var control = L.control({position: options.position || 'bottomright'});
    control.onAdd = function () {
      // A <details> box: open on a desktop, closed on a phone where the map is small.
      var box = el('details', 'gx-legend leaflet-control');
      var small = window.matchMedia && window.matchMedia('(max-width: 767.98px)').matches;
      box.open = options.open !== false && !small;
      box.appendChild(el('summary', 'gx-legend-title', options.title));
      options.rows.forEach(function (row) {
        var line = el('div', 'gx-legend-row');
        var swatch = el('span', 'gx-swatch');
        swatch.style.background = row[0];
        line.appendChild(swatch);
        line.appendChild(el('span', null, row[1]));
        box.appendChild(line);
      });
      if (options.note) { box.appendChild(el('div', 'gx-legend-note', options.note)); }
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
    return control;
  }

  window.GengxinMap = {bboxLayer: bboxLayer, staticLayer: staticLayer, legend: legend,
    popupContent: popupContent};
})();
