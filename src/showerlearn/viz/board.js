// showerlearn board: draws the embedded JSON (id "board-data") with plain DOM + SVG, no dependency,
// so the file opens offline. Data layout: docs/board.md. URL hash "#select=id1,id2" selects entries.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("board-data").textContent);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                   "#17becf", "#bcbd22", "#7f7f7f"];
  const BASELINE_COLOR = "#444444";
  // bins with fewer events are drawn apart (hollow grey points, outside line and band), as in the figures
  const MIN_EVENTS = DATA.min_events_per_bin || 0;
  const FEW_EVENTS_COLOR = "#a6a6a6";
  const W = 470, H = 330, M = {left: 62, right: 14, top: 26, bottom: 46};

  // ---- state -------------------------------------------------------------------------------
  const byId = new Map();
  const order = [];  // every selectable entry: sweeps, their members, single runs
  DATA.entries.forEach((entry) => {
    order.push(entry);
    (entry.members || []).forEach((member) => order.push(member));
  });
  order.forEach((entry, k) => { entry.color = PALETTE[k % PALETTE.length]; byId.set(entry.id, entry); });
  const baseline = DATA.baseline;
  if (baseline) { baseline.color = BASELINE_COLOR; baseline.isBaseline = true; }
  const state = {
    selected: new Set(DATA.entries.map((e) => e.id)),  // top-level entries on by default
    showBaseline: Boolean(baseline),
    requirement: DATA.default_requirement || "none",
    axis: "true_energy",
    sort: {key: null, descending: false},
  };

  // ---- small helpers -----------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  }
  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (parent) parent.appendChild(node);
    return node;
  }
  const finite = (v) => typeof v === "number" && isFinite(v);
  function fmt(v) {
    if (!finite(v)) return "\u2014";
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
  }
  // axis ticks: shortest form (0.1, 10, 1e-05), no trailing zeros
  const tickFmt = (v) => String(Number(v.toPrecision(3)));
  function selectedEntries() {
    const list = order.filter((e) => state.selected.has(e.id));
    if (state.showBaseline && baseline) list.push(baseline);
    return list;
  }

  // ---- axes --------------------------------------------------------------------------------
  function niceTicks(lo, hi) {
    const span = hi - lo, raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => span / s <= 6);
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return ticks;
  }
  function logTicks(lo, hi) {
    // decades; 1-2-5 steps when the range spans less than about three decades
    const steps = Math.log10(hi / lo) < 2.5 ? [1, 2, 5] : [1];
    const ticks = [];
    for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
      steps.forEach((f) => {
        const t = f * Math.pow(10, k);
        if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
      });
    }
    return ticks.length < 2 ? niceTicks(lo, hi).filter((t) => t > 0) : ticks;
  }
  function makeScale(values, log, pad) {
    let vs = values.filter((v) => finite(v) && (!log || v > 0));
    if (!vs.length) vs = log ? [0.1, 1] : [0, 1];
    let lo = Math.min(...vs), hi = Math.max(...vs);
    if (lo === hi) { lo = log ? lo / 2 : lo - 0.5; hi = log ? hi * 2 : hi + 0.5; }
    if (log) { const f = Math.pow(hi / lo, pad); lo /= f; hi *= f; } else { const d = (hi - lo) * pad; lo -= d; hi += d; }
    const t = log ? (v) => Math.log10(v) : (v) => v;
    const a = t(lo), b = t(hi);
    return {lo, hi, log, ticks: log ? logTicks(lo, hi) : niceTicks(lo, hi), frac: (v) => (t(v) - a) / (b - a)};
  }

  // ---- one plot ----------------------------------------------------------------------------
  // spec: {title, xlabel, counted, ylabel, logx, logy, hline, emptyLimit, diagonal, xrange, yrange, series: [...], refs: [...]}
  // series: {id, label, color, dashed, x, y, low, high, band, n}; refs: {label, x, y}
  // band: what [low, high] is ("95 % bootstrap interval"); n: events (spec.counted) per bin (bins below MIN_EVENTS apart)
  function drawPlot(spec) {
    const root = svg("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "plot", "data-plot": spec.key,
                            "data-curve": spec.curve || spec.key});
    const xs = [], ys = [];
    spec.series.forEach((s) => { xs.push(...s.x); ys.push(...s.y, ...(s.low || []), ...(s.high || [])); });
    spec.refs.forEach((r) => { xs.push(...r.x); ys.push(...r.y); });
    if (spec.hline !== undefined && spec.hline !== null) ys.push(spec.hline);
    const sx = makeScale(spec.xrange || xs, spec.logx, spec.xrange ? 0 : 0.04);
    const sy = makeScale(spec.yrange || ys, spec.logy, spec.yrange ? 0 : 0.06);
    const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
    const X = (v) => M.left + sx.frac(v) * pw, Y = (v) => M.top + (1 - sy.frac(v)) * ph;
    const inside = (x, y) => finite(x) && finite(y) && (!spec.logx || x > 0) && (!spec.logy || y > 0);

    svg("text", {x: W / 2, y: 16, class: "title", "text-anchor": "middle"}, root).textContent = spec.title;
    const clipId = "clip-" + spec.key.replace(/\W/g, "-");  // url(#id) takes no "/" of a family's key
    svg("rect", {x: M.left, y: M.top, width: pw, height: ph}, svg("clipPath", {id: clipId}, svg("defs", {}, root)));
    sx.ticks.forEach((t) => {
      svg("line", {x1: X(t), x2: X(t), y1: M.top, y2: M.top + ph, class: "grid"}, root);
      svg("text", {x: X(t), y: M.top + ph + 15, "text-anchor": "middle", class: "tick"}, root).textContent = tickFmt(t);
    });
    sy.ticks.forEach((t) => {
      svg("line", {x1: M.left, x2: M.left + pw, y1: Y(t), y2: Y(t), class: "grid"}, root);
      svg("text", {x: M.left - 5, y: Y(t) + 4, "text-anchor": "end", class: "tick"}, root).textContent = tickFmt(t);
    });
    svg("rect", {x: M.left, y: M.top, width: pw, height: ph, class: "frame"}, root);
    svg("text", {x: M.left + pw / 2, y: H - 8, "text-anchor": "middle", class: "label"}, root).textContent = spec.xlabel;
    svg("text", {x: 14, y: M.top + ph / 2, "text-anchor": "middle", class: "label",
                 transform: `rotate(-90 14 ${M.top + ph / 2})`}, root).textContent = spec.ylabel;

    const area = svg("g", {"clip-path": `url(#${clipId})`}, root);
    let fewDrawn = false;
    let limitDrawn = false;
    if (finite(spec.hline)) svg("line", {x1: M.left, x2: M.left + pw, y1: Y(spec.hline), y2: Y(spec.hline), class: "hline"}, area);
    if (spec.diagonal) svg("line", {x1: X(sx.lo), y1: Y(sx.lo), x2: X(sx.hi), y2: Y(sx.hi), class: "hline"}, area);
    spec.refs.forEach((r) => {
      const g = svg("g", {class: "requirement"}, area);
      const pts = r.x.map((x, k) => [x, r.y[k]]).filter(([x, y]) => inside(x, y));
      svg("path", {d: pts.map(([x, y], k) => `${k ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(""),
                   class: "req-line"}, g);
      svg("title", {}, g).textContent = r.label;
    });
    spec.series.forEach((s) => {
      const g = svg("g", {class: "series", "data-entry": s.id}, area);
      // contiguous runs of finite points with enough events: a missing or sparse bin breaks the line and band
      const segments = [];
      let current = [];
      s.x.forEach((x, k) => {
        if (inside(x, s.y[k]) && !fewEvents(s, k) && !isLimit(spec, s, k)) current.push(k);
        else if (current.length) { segments.push(current); current = []; }
      });
      if (current.length) segments.push(current);
      segments.forEach((seg) => {
        if (s.low && s.high) {
          const band = seg.filter((k) => inside(s.x[k], s.low[k]) && inside(s.x[k], s.high[k]));
          if (band.length > 1) {
            const top = band.map((k) => `${X(s.x[k]).toFixed(1)},${Y(s.high[k]).toFixed(1)}`);
            const bottom = band.slice().reverse().map((k) => `${X(s.x[k]).toFixed(1)},${Y(s.low[k]).toFixed(1)}`);
            svg("path", {d: "M" + top.concat(bottom).join("L") + "Z", fill: s.color, class: "band"}, g);
          }
        }
        svg("path", {d: seg.map((k, i) => `${i ? "L" : "M"}${X(s.x[k]).toFixed(1)},${Y(s.y[k]).toFixed(1)}`).join(""),
                     stroke: s.color, class: "line" + (s.dashed ? " dashed" : "")}, g);
      });
      if (s.markers) {
        s.x.forEach((x, k) => {
          if (!inside(x, s.y[k])) return;
          // a value behind which a run counted nothing is a one-sided limit (spec.emptyLimit): a triangle pointing
          // where the value may lie, instead of the point
          const limit = isLimit(spec, s, k);
          const few = fewEvents(s, k) && !limit;
          if (few) fewDrawn = true;
          if (limit) limitDrawn = true;
          const [cx, cy] = [X(x), Y(s.y[k])];
          const dot = limit
            ? svg("path", {d: triangle(cx, cy, spec.emptyLimit), fill: "white", stroke: s.color, class: "limit"}, g)
            : svg("circle", few
              ? {cx: cx.toFixed(1), cy: cy.toFixed(1), r: 3, fill: "white", stroke: FEW_EVENTS_COLOR, class: "few-events"}
              : {cx: cx.toFixed(1), cy: cy.toFixed(1), r: 3, fill: s.dashed ? "white" : s.color, stroke: s.color}, g);
          const band = s.low && finite(s.low[k]) ? ` [${fmt(s.low[k])}, ${fmt(s.high[k])}]` : "";
          const events = s.n && finite(s.n[k]) ? `\n${spec.counted || "events"}: ${fmt(s.n[k])}${few ? ` (< ${MIN_EVENTS}: drawn apart)` : ""}` : "";
          const side = limit ? `\n${limitNote(spec)}` : "";
          svg("title", {}, dot).textContent = `${s.label}\n${spec.xlabel}: ${fmt(x)}\n${spec.ylabel}: ${fmt(s.y[k])}${band}${events}${side}`;
        });
      }
    });

    const legend = el("div", {class: "legend"});
    spec.series.forEach((s) => legend.appendChild(el("span", {class: "key"}, [
      el("span", {class: "swatch" + (s.dashed ? " dashed" : ""), style: `border-color:${s.color}`}), el("span", {text: s.label})])));
    spec.refs.forEach((r) => legend.appendChild(el("span", {class: "key"}, [
      el("span", {class: "swatch req"}), el("span", {text: r.label})])));
    const figure = el("figure", {class: "plot-box"}, [root, legend]);
    const bands = bandNote(spec.series);
    if (bands) figure.appendChild(el("p", {class: "plot-note band-note", text: bands}));
    if (fewDrawn) {
      figure.appendChild(el("p", {class: "plot-note few-note"}, [
        el("span", {class: "hollow", style: `border-color:${FEW_EVENTS_COLOR}`}),
        el("span", {text: ` bins with < ${MIN_EVENTS} ${spec.counted || "events"} (outside line and band)`})]));
    }
    if (limitDrawn) {
      figure.appendChild(el("p", {class: "plot-note limit-note", text: `${spec.emptyLimit === "upper" ? "\u25bd" : "\u25b3"} ${limitNote(spec)}`}));
    }
    if (!spec.series.length) figure.appendChild(el("p", {class: "empty", text: "no selected run has this curve"}));
    return figure;
  }
  // a triangle of side 8 px centred on (cx, cy), pointing up for a lower limit, down for an upper one
  function triangle(cx, cy, side) {
    const d = side === "upper" ? -1 : 1;
    return `M${cx.toFixed(1)},${(cy - 5 * d).toFixed(1)}L${(cx + 4.5).toFixed(1)},${(cy + 3 * d).toFixed(1)}` +
      `L${(cx - 4.5).toFixed(1)},${(cy + 3 * d).toFixed(1)}Z`;
  }
  function limitNote(spec) {
    return `${spec.emptyLimit} limit: no ${spec.counted || "events"}`;
  }
  function isLimit(spec, s, k) {
    return Boolean(spec.emptyLimit && s.countedNone && s.countedNone[k]);
  }
  function fewEvents(s, k) {
    return Boolean(s.n) && finite(s.n[k]) && s.n[k] < MIN_EVENTS;
  }
  // what the drawn bands are: one line when they agree ("band: 95 % bootstrap interval"), else per series
  function bandNote(series) {
    const bands = series.filter((s) => s.band && s.low && s.low.some(finite));
    const kinds = [...new Set(bands.map((s) => s.band))];
    if (!kinds.length) return "";
    if (kinds.length === 1) return `band: ${kinds[0]}`;
    return "bands: " + bands.map((s) => `${s.label}: ${s.band}`).join("; ");
  }

  // ---- the plots ---------------------------------------------------------------------------
  function curveName(metric, entries) {
    // the chosen energy axis if some entry has it, else whichever axis exists
    const names = new Set();
    entries.forEach((e) => Object.keys(e.curves || {}).forEach((n) => { if (n.split("_vs_")[0] === metric) names.add(n); }));
    const preferred = `${metric}_vs_${state.axis}`;
    return names.has(preferred) ? preferred : [...names].sort()[0];
  }
  // a board of several families keys every name by its family: the curve "iact/energy_resolution_vs_true_energy"
  // reads its axis as "iact/true_energy" says (a board of one family, or an axis its family does not describe:
  // the plain axis name)
  function axisLabel(name) {
    const [metric, axis] = name.split("_vs_");
    const family = metric.slice(0, metric.indexOf("/") + 1);
    return DATA.axis_labels[family + axis] || DATA.axis_labels[axis] || axis.replace(/_/g, " ");
  }
  // what the per-bin counts of curve ``name`` count ("gammas"), looked up as axisLabel does; "events" if unnamed
  function countedOf(name) {
    const [metric, axis] = name.split("_vs_");
    const family = metric.slice(0, metric.indexOf("/") + 1);
    const counts = DATA.axis_counts || {};
    return counts[family + axis] || counts[axis] || "events";
  }
  function seriesOf(entry, curve) {
    // the centres the figures use (metrics.binning.bin_centers): geometric, arithmetic if any edge is <= 0
    const geometric = curve.edges.every((edge) => edge > 0);
    const x = curve.edges.slice(1).map((hi, k) => {
      const lo = curve.edges[k];
      return geometric ? Math.sqrt(lo * hi) : (lo + hi) / 2;
    });
    return {id: entry.id, label: entry.label + (entry.isBaseline ? " (baseline)" : ""), color: entry.color,
            dashed: Boolean(entry.isBaseline), markers: true, x, y: curve.value, low: curve.low, high: curve.high,
            band: curve.band || "", n: curve.n_events || null, countedNone: curve.counted_none || null};
  }
  function drawPlots() {
    const host = document.getElementById("plots");
    host.replaceChildren();
    const entries = selectedEntries();
    const requirement = (DATA.requirements || {})[state.requirement] || {};
    // every plot stays in place whatever the selection (an empty one says so)
    const everyEntry = order.concat(baseline ? [baseline] : []);
    DATA.plots.forEach((plot) => {
      const name = curveName(plot.metric, everyEntry);
      if (!name) return;
      const req = requirement[plot.metric];
      const series = entries.filter((e) => e.curves && e.curves[name]).map((e) => seriesOf(e, e.curves[name]));
      host.appendChild(drawPlot({
        key: plot.metric, curve: name, title: plot.title, ylabel: plot.ylabel, logy: Boolean(plot.logy), hline: plot.hline,
        emptyLimit: plot.empty_limit || null,
        logx: series.every((s) => s.x.every((x) => !finite(x) || x > 0)),  // energies: log axis
        xlabel: axisLabel(name), counted: countedOf(name),
        series,
        refs: req ? [{label: req.label, x: req.energy, y: req.value}] : [],
      }));
    });
    const withRoc = entries.filter((e) => e.roc);
    if (everyEntry.some((e) => e.roc)) {
      host.appendChild(drawPlot({
        key: "roc", title: "ROC", xlabel: "false positive rate", ylabel: "true positive rate",
        logx: false, logy: false, diagonal: true, xrange: [0, 1], yrange: [0, 1], refs: [],
        series: withRoc.map((e) => ({id: e.id, color: e.color, dashed: Boolean(e.isBaseline), markers: false,
                                     label: `${e.label}${e.isBaseline ? " (baseline)" : ""} (AUC ${fmt(e.auc)})`, x: e.roc.fpr, y: e.roc.tpr,
                                     low: e.roc.low, high: e.roc.high, band: e.roc.band || ""})),
      }));
    }
  }

  // ---- metrics table -----------------------------------------------------------------------
  // a limit (a rejection where no test background was kept: at least its 95 % CL limit) ranks as its value
  function scalarValue(entry, key) {
    const v = (entry.scalars || {})[key];
    return finite(v) ? v : null;
  }
  // a sweep's mean over fewer runs than it aggregated (a seed without a value) says so
  function runsNote(entry, key) {
    const [n, of] = (entry.scalar_runs || {})[key] || [0, 0];
    return n < of ? ` (${n} of ${of} runs)` : "";
  }
  function drawMetrics() {
    const entries = selectedEntries();
    const keys = DATA.scalar_order.filter((k) => entries.some((e) => scalarValue(e, k) !== null));
    const {key, descending} = state.sort;
    if (key) {
      entries.sort((a, b) => {
        const va = key === "run" ? a.label : scalarValue(a, key), vb = key === "run" ? b.label : scalarValue(b, key);
        if (va === null) return 1;
        if (vb === null) return -1;
        const c = va < vb ? -1 : va > vb ? 1 : 0;
        return descending ? -c : c;
      });
    }
    // the best value of each column, by the direction the board knows for it
    const best = {};
    keys.forEach((k) => {
      const better = DATA.better[k];
      const vs = entries.map((e) => scalarValue(e, k)).filter((v) => v !== null);
      if (!better || vs.length < 2) return;
      best[k] = better === "higher" ? Math.max(...vs) : better === "lower" ? Math.min(...vs)
        : vs.reduce((a, b) => (Math.abs(b) < Math.abs(a) ? b : a));
    });
    const head = el("tr", {}, ["run"].concat(keys).map((k) => {
      const arrow = key === k ? (descending ? " \u25bc" : " \u25b2") : "";
      const unit = (DATA.scalar_units || {})[k];
      const th = el("th", {"data-key": k, class: "sortable", text: k + (unit ? ` [${unit}]` : "") + arrow});
      th.addEventListener("click", () => {
        state.sort = {key: k, descending: state.sort.key === k ? !state.sort.descending : false};
        changed();
      });
      return th;
    }));
    const rows = entries.map((e) => el("tr", {"data-entry": e.id}, [
      el("td", {class: "name"}, [el("span", {class: "dot", style: `background:${e.color}`}),
                    el("span", {text: e.label + (e.isBaseline ? " (baseline)" : "")})]),
    ].concat(keys.map((k) => {
      const v = scalarValue(e, k), std = (e.scalar_std || {})[k];
      const sign = (e.limits || {})[k];  // "\u2265" or "\u2264" before a limit
      const text = (v === null ? "\u2014" : (sign ? `${sign} ` : "") + fmt(v) + (finite(std) ? ` \u00b1 ${fmt(std)}` : ""))
        + runsNote(e, k);
      // ties up to rounding noise (a sweep of identical runs) are all best
      const isBest = v !== null && k in best
        && (v === best[k] || (finite(best[k]) && Math.abs(v - best[k]) <= 1e-9 * Math.max(Math.abs(best[k]), 1e-300)));
      return el("td", {class: isBest ? "best num" : "num", text});
    }))));
    const table = el("table", {id: "metrics-table"}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
    document.getElementById("metrics").replaceChildren(table);
  }

  // ---- config differences ------------------------------------------------------------------
  // A key is "not set" in an entry that lacks it or holds null (a baseline without model, a network
  // without estimator). Keys set in every selected entry with other values get a row each; keys set in
  // only some entries are gathered per config section (model, estimator...), one row with what each
  // entry sets there, so that a network against an estimator baseline is a few rows, not a column of blanks.
  const UNSET = "not set";
  function configValue(entry, key) {
    const v = (entry.config || {})[key];
    return v === undefined || v === "null" ? null : v;
  }
  function unsetCell() { return el("td", {class: "unset", text: UNSET}); }
  function drawConfig() {
    const host = document.getElementById("config");
    const entries = selectedEntries();
    if (entries.length < 2) {
      host.replaceChildren(el("p", {class: "empty", text: "select at least two runs to see their config differences"}));
      return;
    }
    const keys = [...new Set(entries.flatMap((e) => Object.keys(e.config || {})))].sort();
    const differing = keys.filter((k) => new Set(entries.map((e) => configValue(e, k))).size > 1);
    if (!differing.length) {
      host.replaceChildren(el("p", {class: "empty", text: "the selected runs have identical configs"}));
      return;
    }
    const everywhere = differing.filter((k) => entries.every((e) => configValue(e, k) !== null));
    const sections = new Map();
    differing.filter((k) => !everywhere.includes(k)).forEach((k) => {
      const section = k.split(".")[0];
      sections.set(section, (sections.get(section) || []).concat([k]));
    });
    const head = el("tr", {}, [el("th", {text: "key"})].concat(entries.map((e) => el("th", {text: e.label}))));
    const rows = everywhere.map((k) => el("tr", {"data-key": k}, [el("td", {class: "key", text: k})].concat(
      entries.map((e) => el("td", {text: configValue(e, k)})))));
    sections.forEach((sectionKeys, section) => {
      const cells = entries.map((e) => {
        const set = sectionKeys.filter((k) => configValue(e, k) !== null);
        if (!set.length) return unsetCell();
        if (sectionKeys.length === 1) return el("td", {text: configValue(e, set[0])});  // the row names the key
        if (set.length === 1) return el("td", {text: `${set[0]}: ${configValue(e, set[0])}`});
        const lines = set.map((k) => `${k}: ${configValue(e, k)}`).join("\n");
        return el("td", {}, [el("details", {}, [el("summary", {text: `${set.length} keys`}), el("pre", {text: lines})])]);
      });
      const name = sectionKeys.length === 1 ? sectionKeys[0] : `${section}.* (${sectionKeys.length} keys)`;
      rows.push(el("tr", {"data-key": section, class: "section"}, [el("td", {class: "key", text: name})].concat(cells)));
    });
    host.replaceChildren(el("table", {id: "config-table"}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
  }

  // ---- images (run figures, explanations) -------------------------------------------------
  function drawImages() {
    const host = document.getElementById("images");
    const blocks = [];
    selectedEntries().forEach((entry) => {
      // a sweep's own figures (the mean over its seeds) first, then each of its runs'
      const owners = [entry].concat(entry.members || []);
      owners.forEach((owner) => {
        if (!owner.images || !owner.images.length) return;
        blocks.push(el("div", {class: "run-images", "data-entry": owner.id}, [el("h3", {text: owner.label})].concat(
          owner.images.map((img) => el("figure", {}, [el("img", {src: "data:image/png;base64," + img.data, alt: img.name}),
                                                      el("figcaption", {text: img.name})])))));
      });
    });
    document.getElementById("images-section").hidden = !blocks.length;
    host.replaceChildren(...blocks);
  }

  // ---- controls ----------------------------------------------------------------------------
  function redraw() {
    drawPlots();
    drawMetrics();
    drawConfig();
    drawImages();
    // a selected single run of a sweep stays visible in the list
    document.querySelectorAll("#runs details").forEach((d) => { if (d.querySelector("input:checked")) d.open = true; });
    document.body.setAttribute("data-selected", [...state.selected].join(","));
  }
  // every user change goes into the URL hash, so a view can be bookmarked or shared
  function changed() {
    const parts = ["select=" + [...state.selected].map(encodeURIComponent).join(","), "axis=" + state.axis];
    if (baseline) parts.push("baseline=" + (state.showBaseline ? 1 : 0));
    if (Object.keys(DATA.requirements || {}).length) parts.push("requirement=" + encodeURIComponent(state.requirement));
    if (state.sort.key) parts.push("sort=" + (state.sort.descending ? "-" : "") + encodeURIComponent(state.sort.key));
    history.replaceState(null, "", "#" + parts.join("&"));
    redraw();
  }
  function onToggle(event) {
    const id = event.target.getAttribute("data-entry");
    if (event.target.checked) state.selected.add(id); else state.selected.delete(id);
    changed();
  }
  function checkbox(entry, text) {
    const box = el("input", {type: "checkbox", "data-entry": entry.id});
    box.checked = state.selected.has(entry.id);
    box.addEventListener("change", onToggle);
    const status = entry.status && entry.status !== "completed" ? ` [${entry.status}]` : "";
    return el("label", {class: "entry", title: entry.path}, [
      box, el("span", {class: "dot", style: `background:${entry.color}`}), el("span", {text: (text || entry.label) + status})]);
  }
  // what an entry's data is (data set, cuts, test events): once under "Runs" when every entry says the
  // same, else under each entry (a sweep's run only where it differs from its sweep's)
  function captionOf(entry, parent) {
    const text = entry.caption || "";
    return text && text !== (parent ? parent.caption : "") ? el("div", {class: "caption", "data-entry": entry.id, text}) : null;
  }
  function buildControls() {
    const list = document.getElementById("runs");
    const captions = new Set(order.concat(baseline ? [baseline] : []).map((e) => e.caption || ""));
    const common = captions.size === 1 ? [...captions][0] : "";
    const shared = document.getElementById("runs-caption");
    shared.textContent = common ? `data: ${common}` : "";
    shared.hidden = !common;
    const own = (entry, parent) => (common ? null : captionOf(entry, parent));
    DATA.entries.forEach((entry) => {
      const item = el("li", {"data-entry": entry.id}, [checkbox(entry)]);
      const caption = own(entry);
      if (caption) item.appendChild(caption);
      if (entry.members && entry.members.length) {
        item.firstChild.appendChild(el("span", {class: "note", text: ` mean \u00b1 std of ${entry.members.length} runs`}));
        item.appendChild(el("details", {}, [el("summary", {text: "single runs"}),
          el("ul", {}, entry.members.map((m) => el("li", {"data-entry": m.id},
                                                   [checkbox(m, m.path.split(/[\\/]/).pop()), own(m, entry)].filter(Boolean))))]));
      }
      list.appendChild(item);
    });
    const baselineBox = document.getElementById("show-baseline");
    if (baseline) {
      document.getElementById("baseline-label").textContent = ` ${baseline.label} (dashed)`;
      baselineBox.checked = state.showBaseline;
      baselineBox.addEventListener("change", () => { state.showBaseline = baselineBox.checked; changed(); });
      const caption = own(baseline);
      if (caption) baselineBox.closest("p").appendChild(caption);
    } else {
      baselineBox.closest("p").hidden = true;
    }
    const reqSelect = document.getElementById("requirement");
    const sets = Object.keys(DATA.requirements || {});
    if (sets.length) {
      ["none"].concat(sets).forEach((name) => {
        const opt = el("option", {value: name, text: name});
        opt.selected = name === state.requirement;
        reqSelect.appendChild(opt);
      });
      reqSelect.addEventListener("change", () => { state.requirement = reqSelect.value; changed(); });
    } else {
      reqSelect.parentElement.hidden = true;
    }
    // the energy-axis switch only where some metric has curves against both axes
    const names = new Set(order.concat(baseline ? [baseline] : []).flatMap((e) => Object.keys(e.curves || {})));
    const both = [...names].some((n) => n.endsWith("_vs_true_energy")
                                        && names.has(n.replace(/_vs_true_energy$/, "_vs_reco_energy")));
    document.getElementById("axis-control").hidden = !both;
    document.querySelectorAll("input[name=axis]").forEach((radio) => {
      radio.checked = radio.value === state.axis;
      radio.addEventListener("change", () => { if (radio.checked) { state.axis = radio.value; changed(); } });
    });
  }
  // "#select=a,b&axis=reco_energy&baseline=0&requirement=South": applied through the same controls a
  // user clicks, so a hash exercises the real event handlers
  function applyHash() {
    const params = new Map(location.hash.replace(/^#/, "").split("&").filter(Boolean).map((part) => {
      const k = part.indexOf("=");
      return k < 0 ? [part, ""] : [part.slice(0, k), part.slice(k + 1)];
    }));
    if (params.has("select")) {
      const wanted = new Set(params.get("select").split(",").filter(Boolean).map(decodeURIComponent));
      document.querySelectorAll("#runs input[type=checkbox]").forEach((box) => {
        if (box.checked !== wanted.has(box.getAttribute("data-entry"))) box.click();
      });
    }
    const radio = document.querySelector(`input[name=axis][value="${params.get("axis")}"]`);
    if (radio && !radio.checked) radio.click();
    const baselineBox = document.getElementById("show-baseline");
    if (baseline && params.has("baseline") && baselineBox.checked !== (params.get("baseline") === "1")) baselineBox.click();
    const reqSelect = document.getElementById("requirement");
    const requirement = params.has("requirement") ? decodeURIComponent(params.get("requirement")) : null;
    if (requirement !== null && requirement !== reqSelect.value && [...reqSelect.options].some((o) => o.value === requirement)) {
      reqSelect.value = requirement;
      reqSelect.dispatchEvent(new Event("change"));
    }
    // "sort=auc" ascending, "sort=-auc" descending: one or two clicks on the column header
    if (params.has("sort")) {
      const sort = decodeURIComponent(params.get("sort")), key = sort.replace(/^-/, ""), descending = sort.startsWith("-");
      for (let k = 0; k < 2 && !(state.sort.key === key && state.sort.descending === descending); k++) {
        const header = [...document.querySelectorAll("#metrics-table th")].find((th) => th.getAttribute("data-key") === key);
        if (!header) break;
        header.click();
      }
    }
  }

  document.getElementById("created").textContent = DATA.created;
  buildControls();
  redraw();
  applyHash();
  window.addEventListener("hashchange", applyHash);
  document.body.setAttribute("data-ready", "1");
})();
