/* Gridwalk console map (一图一表): draws the scope's grids, case pins coloured by deadline
 * light, households outside their grid and one worker's patrol tracks as SVG from
 * /console/data/map. Vector only, no network beyond this server; tiles only when the server
 * config names a tile URL template. Writes the drawing time into data-rendered-ms. */
(function () {
  "use strict";
  var box = document.getElementById("gw-map");
  if (!box) return;
  var NS = "http://www.w3.org/2000/svg";
  var W = 960, H = 640;

  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function draw(d) {
    var t0 = performance.now();
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    function grow(x, y) {
      if (x < minX) minX = x; if (x > maxX) maxX = x;
      if (y < minY) minY = y; if (y > maxY) maxY = y;
    }
    d.grids.forEach(function (g) { g.rings.forEach(function (r) { r.forEach(function (p) { grow(p[0], p[1]); }); }); });
    d.cases.forEach(function (c) { grow(c[2], c[1]); });
    d.outside.forEach(function (o) { grow(o[2], o[1]); });
    d.tracks.forEach(function (line) { line.forEach(function (p) { grow(p[1], p[0]); }); });
    if (!isFinite(minX)) { minX = 0; maxX = 1; minY = 0; maxY = 1; }
    var kx = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    var sx = (maxX - minX) * kx || 1e-6, sy = (maxY - minY) || 1e-6;
    var s = Math.min((W - 20) / sx, (H - 20) / sy);
    function X(lng) { return 10 + (lng - minX) * kx * s; }
    function Y(lat) { return H - 10 - (lat - minY) * s; }

    var svg = el("svg", { "class": "map", viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" });
    svg.appendChild(el("rect", { "class": "sea", x: 0, y: 0, width: W, height: H }));
    if (d.tile_url) {
      /* A deployment's own tiles: one tile at the zoom that fits, under the vectors. */
      var z = 15, n = Math.pow(2, z);
      var tx = Math.floor((minX + 180) / 360 * n);
      var latr = ((minY + maxY) / 2) * Math.PI / 180;
      var ty = Math.floor((1 - Math.log(Math.tan(latr) + 1 / Math.cos(latr)) / Math.PI) / 2 * n);
      var url = d.tile_url.replace("{z}", z).replace("{x}", tx).replace("{y}", ty);
      svg.appendChild(el("image", { href: url, x: 0, y: 0, width: W, height: H, opacity: 0.6 }));
    }
    var stats = {};
    var frag = document.createDocumentFragment();
    d.grids.forEach(function (g) {
      stats[g.code] = { name: g.name, cases: 0, red: 0, yellow: 0, coverage: g.coverage };
      g.rings.forEach(function (r) {
        var path = r.map(function (p, i) { return (i ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1); }).join("") + "Z";
        var p = el("path", { "class": "grid", d: path, "data-grid": g.code });
        var title = el("title", {}); title.textContent = g.name; p.appendChild(title);
        frag.appendChild(p);
      });
    });
    d.tracks.forEach(function (line) {
      frag.appendChild(el("polyline", { "class": "track", points: line.map(function (p) { return X(p[1]).toFixed(1) + "," + Y(p[0]).toFixed(1); }).join(" ") }));
    });
    d.outside.forEach(function (o) {
      var r = el("rect", { "class": "outside", x: X(o[2]) - 4, y: Y(o[1]) - 4, width: 8, height: 8 });
      var title = el("title", {}); title.textContent = o[3]; r.appendChild(title);
      frag.appendChild(r);
    });
    d.cases.forEach(function (c) {
      var light = c[3];
      /* One element per pin (no group): 5,000 pins stay cheap to lay out and paint. */
      frag.appendChild(el("circle", { "class": "pin " + light, "data-case": c[0],
        cx: X(c[2]).toFixed(1), cy: Y(c[1]).toFixed(1), r: 5 }));
    });
    svg.appendChild(frag);
    box.textContent = "";
    box.appendChild(svg);

    /* The table of the map (一图一表): per grid, cases and lights, coverage. */
    var grid = d.grids.length ? d.grids[0].code : null;
    d.cases.forEach(function (c) {
      var best = null;
      d.grids.forEach(function (g) { if (!best && inside(g, c[2], c[1])) best = g.code; });
      var st = stats[best || grid];
      if (!st) return;
      st.cases++;
      if (c[3] === "red") st.red++;
      if (c[3] === "yellow") st.yellow++;
    });
    var tbody = document.querySelector("#gw-map-table tbody");
    if (tbody) {
      tbody.textContent = "";
      Object.keys(stats).sort().forEach(function (code) {
        var st = stats[code], tr = document.createElement("tr");
        [st.name, st.cases, st.red, st.yellow, st.coverage == null ? "—" : Math.round(st.coverage * 100) + "%"].forEach(function (v) {
          var td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
        });
        tr.setAttribute("data-grid", code);
        tbody.appendChild(tr);
      });
    }
    box.setAttribute("data-rendered-ms", String(Math.round(performance.now() - t0)));
    box.setAttribute("data-cases", String(d.cases.length));
    box.setAttribute("data-grids", String(d.grids.length));
  }

  function inside(g, x, y) {
    for (var k = 0; k < g.rings.length; k++) {
      var r = g.rings[k], c = false;
      for (var i = 0, j = r.length - 1; i < r.length; j = i++) {
        if ((r[i][1] > y) !== (r[j][1] > y) && x < (r[j][0] - r[i][0]) * (y - r[i][1]) / (r[j][1] - r[i][1]) + r[i][0]) c = !c;
      }
      if (c) return true;
    }
    return false;
  }

  var started = performance.now();
  fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (d) {
      draw(d);
      box.setAttribute("data-total-ms", String(Math.round(performance.now() - started)));
    })
    .catch(function (e) {
      box.textContent = (box.getAttribute("data-lang") === "zh" ? "地图加载失败：" : "The map could not load: ") + e.message;
      box.setAttribute("data-error", "1");
    });
})();
