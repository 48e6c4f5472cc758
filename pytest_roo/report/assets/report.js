/* pytest-roo HTML report: draws the charts from the series the report computed (no statistics
   here). Each chart is an element <div class="chart" data-result="N" data-chart="KIND">. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("roo-data").textContent);
  var COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4", "#953800",
                "#6e7781"];
  var ERR = ["#cf222e", "#fb8f44", "#a475f9", "#e16f24", "#d1242f", "#bf8700"];
  var HEIGHT = 240;
  var drawn = [];

  function series(label, stroke, extra) {
    var s = { label: label, stroke: stroke, width: 1.5 };
    // a baseline drawn beside the current run: dashed
    if (/\(baseline /.test(label)) { s.dash = [6, 4]; }
    for (var k in extra || {}) { s[k] = extra[k]; }
    return s;
  }

  // a baseline series takes the colour of the series it is the baseline of
  function colorOf(names, i) {
    var own = names.indexOf(names[i].split(" (baseline ")[0]);
    return COLORS[(own >= 0 ? own : i) % COLORS.length];
  }

  function base(el, xLabel) {
    return {
      width: Math.max(320, el.clientWidth), height: HEIGHT,
      scales: { x: { time: false }, y: { range: fromZero } },
      axes: [{ label: xLabel }, {}],
      cursor: { drag: { x: true, y: false } },
      series: [{ label: xLabel }]
    };
  }

  // amounts start at zero, so that a small wobble does not look like a collapse
  function fromZero(u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; }

  function percentileLabel(x) {
    if (x == null) { return "-"; }
    if (x <= 1) { return "0%"; }
    var digits = Math.max(0, Math.ceil(Math.log10(x) - 1e-9) - 2);
    return (100 * (1 - 1 / x)).toFixed(digits) + "%";
  }

  function decades(u, axisIdx, min, max) {
    var out = [];
    for (var p = Math.floor(Math.log10(Math.max(min, 1e-9))); Math.pow(10, p) <= max * 1.0001; p++) {
      var v = Math.pow(10, p);
      if (v >= min * 0.9999) { out.push(v); }
    }
    return out.length ? out : [min, max];
  }

  var builders = {
    latency: function (el, r) {
      var tl = r.timeline, o = base(el, "second"), cols = [tl.t];
      var stats = Object.keys(tl.latency_ms);
      stats.forEach(function (stat, i) {
        o.series.push(series(stat, colorOf(stats, i)));
        cols.push(tl.latency_ms[stat]);
      });
      o.axes[1] = { label: "ms" };
      return [o, cols];
    },
    throughput: function (el, r) {
      var tl = r.timeline, o = base(el, "second"), cols = [tl.t, tl.ops, tl.ok];
      o.series.push(series("attempted/s", COLORS[0]), series("ok/s", COLORS[2]));
      o.scales.err = { range: function (u, min, max) { return [0, Math.max(1, max * 1.08)]; } };
      var kinds = Object.keys(tl.error_kinds);
      if (kinds.length) {
        kinds.forEach(function (kind, i) {
          o.series.push(series(kind + "/s", ERR[i % ERR.length], { scale: "err" }));
          cols.push(tl.error_kinds[kind]);
        });
      } else {
        o.series.push(series("errors/s", ERR[0], { scale: "err" }));
        cols.push(tl.errors);
      }
      o.axes = [{ label: "second" }, { label: "operations/s" },
                { scale: "err", side: 1, label: "errors/s", stroke: ERR[0], grid: { show: false } }];
      return [o, cols];
    },
    spectrum: function (el, r) {
      var sp = r.spectrum, o = base(el, "percentile"), cols = [sp.x];
      o.scales.x = { time: false, distr: 3, log: 10 };
      o.series[0].value = function (u, v) { return percentileLabel(v); };
      o.axes = [{ label: "percentile (log scale of 1 / (1 - p))", splits: decades,
                  values: function (u, splits) { return splits.map(percentileLabel); } },
                { label: "ms" }];
      var names = Object.keys(sp.series);
      names.forEach(function (name, i) {
        o.series.push(series(name + " (" + sp.counts[name] + " samples)", colorOf(names, i)));
        cols.push(sp.series[name]);
      });
      return [o, cols];
    },
    histogram: function (el, r) {
      var h = r.histogram, o = base(el, "ms"), cols = [h.x];
      o.scales.x = { time: false, distr: 3, log: 10 };
      o.axes = [{ label: "ms (log scale)", splits: decades }, { label: "samples" }];
      var stepped = uPlot.paths.stepped({ align: 1 });
      var names = Object.keys(h.series);
      names.forEach(function (name, i) {
        var c = colorOf(names, i);
        o.series.push(series(name, c, { paths: stepped, fill: c + "33" }));
        cols.push(h.series[name]);
      });
      return [o, cols];
    },
    capacity: function (el, r, which) {
      // one point per step of a stepped load, by offered rate (pytest_roo.slo.capacity)
      var c = r.capacity, o = base(el, "offered /s"), cols = [c.x];
      o.series[0].value = function (u, v) { return v == null ? "-" : v + "/s"; };
      var dots = { size: 6 };
      if (which === "throughput") {
        o.series.push(series("offered/s", COLORS[7], { dash: [4, 4], points: { show: false } }),
                      series("achieved/s", COLORS[2], { points: dots }));
        cols.push(c.offered, c.achieved);
        o.scales.err = { range: function (u, min, max) { return [0, Math.max(1, max * 1.08)]; } };
        o.series.push(series("errors %", ERR[0], { scale: "err", points: dots }));
        cols.push(c.error_pct);
        o.axes = [{ label: "offered /s" }, { label: "answered /s" },
                  { scale: "err", side: 1, label: "errors %", stroke: ERR[0], grid: { show: false } }];
        return [o, cols];
      }
      var stats = Object.keys(c.latency_ms);
      stats.forEach(function (stat, i) {
        o.series.push(series(stat, COLORS[i % COLORS.length], { points: dots }));
        cols.push(c.latency_ms[stat]);
      });
      Object.keys(c.limits_ms).forEach(function (name) {
        var i = stats.indexOf(name.split(" ")[0]);
        o.series.push(series(name, COLORS[(i >= 0 ? i : 7) % COLORS.length],
                             { dash: [6, 4], points: { show: false } }));
        cols.push(c.limits_ms[name]);
      });
      o.axes[1] = { label: "ms" };
      return [o, cols];
    },
    resources: function (el, r, group) {
      var res = r.resources, o = base(el, "second"), cols = [res.t];
      var unit = { memory: "MB", cpu: "% of one core" }[group] || "";
      o.axes[1] = { label: unit };
      Object.keys(res.groups[group]).forEach(function (name, i) {
        // series sampled at different instants share the axis: join their points
        o.series.push(series(name, COLORS[i % COLORS.length], { spanGaps: true }));
        cols.push(res.groups[group][name]);
      });
      return [o, cols];
    }
  };

  var elements = document.querySelectorAll("div.chart[data-chart]");
  for (var i = 0; i < elements.length; i++) {
    var el = elements[i];
    var r = data.results[Number(el.getAttribute("data-result"))];
    var kind = el.getAttribute("data-chart").split(":");
    try {
      var built = builders[kind[0]](el, r, kind[1]);
      if (!built[1][0] || built[1][0].length === 0) { continue; }
      drawn.push({ el: el, plot: new uPlot(built[0], built[1], el) });
    } catch (err) {
      console.error("pytest-roo report: chart " + kind.join(":") + " of result " +
                    el.getAttribute("data-result") + " failed: " + err);
    }
  }
  document.documentElement.setAttribute("data-charts-drawn", String(drawn.length));

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () {
      drawn.forEach(function (d) { d.plot.setSize({ width: Math.max(320, d.el.clientWidth), height: HEIGHT }); });
    }, 100);
  });
})();
