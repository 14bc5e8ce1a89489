// Opportunities page: uncertainty windows, ranked hedges, and a scenario panel
// whose severity slider reruns the Monte Carlo simulator and redraws the
// hedged against unhedged distributions.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt;
  var PRESETS = ["mild", "base", "severe", "tail"];
  var PRESET_LABELS = ["Mild", "Base", "Severe", "Tail"];

  var pick = FG.pick;

  function notAvailable(what) {
    return function (err) {
      if (err && (err.status === 404 || err.status === 405) && !(err.body && err.body.instance && /\/\d+$/.test(err.body.instance))) {
        var e = new FG.ApiError(err.status, "Not available", what + " is not available on this server yet (the endpoint answered " + err.status + ").");
        e.notAvailable = true;
        throw e;
      }
      throw err;
    };
  }

  var oppPromise = null;
  function opportunities() {
    if (!oppPromise) {
      oppPromise = FG.requirePortfolio().then(function (id) {
        return FG.api("/api/insurance/opportunities?portfolio_id=" + encodeURIComponent(id));
      }).catch(notAvailable("The opportunity engine"));
      oppPromise.catch(function () { oppPromise = null; });
    }
    return oppPromise;
  }

  function bandText(b) {
    if (!b) return "–";
    if (typeof b === "number") return fmt.pct(b, 1);
    var lo = pick(b, ["p5", "lower", "low", "p05"]), mid = pick(b, ["p50", "median", "mid"]), hi = pick(b, ["p95", "upper", "high"]);
    return [lo, mid, hi].filter(FG.isNum).map(function (v) { return fmt.pct(v, 1); }).join(" / ");
  }

  function renderWindows(body, data) {
    var windows = pick(data, ["windows", "uncertainty", "risk_windows"], []) || [];
    if (!windows.length) { body.appendChild(el("div", { class: "empty" }, "No uncertainty window ahead in the forecast horizon.")); return; }
    body.appendChild(el("div", { class: "uncertainty-cards", id: "uncertainty-cards" }, windows.map(function (w) {
      var drivers = pick(w, ["drivers", "reasons"], []) || [];
      var dd = pick(w, ["projected_drawdown", "drawdown_distribution", "drawdown"]);
      var prob = pick(w, ["probability", "probability_bands", "bands"]);
      return el("div", { class: "ucard" },
        el("h4", null, pick(w, ["title", "label", "name"], "Uncertainty window"), " ", FG.estimateTag()),
        el("div", { class: "small" }, el("strong", null, fmt.date(pick(w, ["start", "t0", "start_date"])) + " → " + fmt.date(pick(w, ["end", "t1", "end_date"])))),
        el("h3", null, "Drivers"),
        el("ul", { class: "small" }, drivers.map(function (d) {
          return el("li", null, typeof d === "string" ? d : (pick(d, ["label", "name", "driver"], "") + (pick(d, ["detail", "value"]) !== null ? ": " + pick(d, ["detail", "value"]) : "")));
        })),
        el("h3", null, "Probability bands"),
        el("div", { class: "small" }, typeof prob === "object" && prob && !Array.isArray(prob) && pick(prob, ["p5", "lower", "p50"]) === null
          ? Object.keys(prob).map(function (k) { return el("div", null, k.replace(/_/g, " ") + ": " + (FG.isNum(prob[k]) ? fmt.pct(prob[k], 1) : bandText(prob[k]))); })
          : bandText(prob)),
        el("h3", null, "Projected drawdown (P5 / median / P95)"),
        el("div", { class: "small" }, bandText(dd)),
        pick(w, ["narrative", "text"]) ? el("p", { class: "small muted" }, pick(w, ["narrative", "text"])) : null);
    })));
  }

  function rankedRows(data) { return pick(data, ["recommendations", "ranked", "hedges", "strategies"], []) || []; }

  function renderRanked(body, data) {
    var rows = rankedRows(data);
    if (!rows.length) { body.appendChild(el("div", { class: "empty" }, "No hedge recommended.")); return; }
    body.appendChild(el("p", { class: "small muted" }, "Score = (ES reduction − premium) / residual risk. Premiums of synthetic chains are estimates."));
    body.appendChild(FG.table([
      { label: "#", fmt: function (r, i) { return String(i + 1); } },
      { label: "Expiry", fmt: function (r) { return fmt.date(r.expiry); } },
      { label: "Structure", fmt: function (r) { return String(pick(r, ["structure", "strategy"], "")).replace(/_/g, " "); } },
      { label: "Put strike", num: true, fmt: function (r) { return fmt.num(r.put_strike, 0); } },
      { label: "Call strike", num: true, fmt: function (r) { return FG.isNum(r.call_strike) ? fmt.num(r.call_strike, 0) : "–"; } },
      { label: "Premium", num: true, fmt: function (r) { return fmt.money(pick(r, ["premium", "premium_net"])); } },
      { label: "Coverage", num: true, fmt: function (r) { return fmt.pct(pick(r, ["coverage_pct", "coverage"]), 0); } },
      { label: "Breakeven", num: true, fmt: function (r) { return fmt.num(r.breakeven, 0); } },
      { label: "Score", num: true, fmt: function (r) { return fmt.num(r.score, 3); } }
    ], rows, { id: "ranked-table" }));
    var sel = FG.clear(FG.$("#scenario-hedge"));
    rows.forEach(function (r, i) {
      sel.appendChild(el("option", { value: String(i) }, (i + 1) + ". " + String(pick(r, ["structure", "strategy"], "")).replace(/_/g, " ") + " " + fmt.date(r.expiry)));
    });
  }

  // ---------------------------------------------------------------- scenario
  function dist(side) {
    return pick(side || {}, ["values", "samples", "final_values", "terminal_values"], null);
  }
  function renderScenario(body, res, label) {
    var un = pick(res, ["unhedged"], {}) || {}, he = pick(res, ["hedged"], {}) || {};
    body.appendChild(el("div", { class: "kpis", id: "scenario-kpis" },
      FG.kpi("Unhedged P5 / median / P95", [pick(un, ["p5"]), pick(un, ["median", "p50"]), pick(un, ["p95"])].map(function (v) { return fmt.money(v); }).join(" / ")),
      FG.kpi("Hedged P5 / median / P95", [pick(he, ["p5"]), pick(he, ["median", "p50"]), pick(he, ["p95"])].map(function (v) { return fmt.money(v); }).join(" / ")),
      FG.kpi("Expected net payoff", fmt.money(pick(res, ["expected_net_payoff", "hedge.expected_net_payoff"])), pick(res, ["expected_net_payoff_se"]) !== null ? "± " + fmt.money(pick(res, ["expected_net_payoff_se"])) + " (MC s.e.)" : null),
      FG.kpi("P(floor breach)", fmt.pct(pick(un, ["p_breach", "breach_probability"], pick(res, ["p_breach_unhedged"])), 1) + " → " + fmt.pct(pick(he, ["p_breach", "breach_probability"], pick(res, ["p_breach_hedged"])), 1), "unhedged → hedged")));
    var chart = el("div", { class: "chart tall", id: "scenario-chart" });
    body.appendChild(chart);
    var traces = [];
    var hu = pick(un, ["histogram"]), hh = pick(he, ["histogram"]);
    if (dist(un) && dist(he)) {
      traces.push({ type: "histogram", x: dist(un), name: "Unhedged", opacity: 0.6, marker: { color: FG.palette.port }, histnorm: "probability" });
      traces.push({ type: "histogram", x: dist(he), name: "Hedged", opacity: 0.6, marker: { color: FG.palette.hedged }, histnorm: "probability" });
    } else if (hu && hh) {
      traces.push({ type: "bar", x: hu.centers || hu.bins, y: hu.density || hu.counts, name: "Unhedged", opacity: 0.6, marker: { color: FG.palette.port } });
      traces.push({ type: "bar", x: hh.centers || hh.bins, y: hh.density || hh.counts, name: "Hedged", opacity: 0.6, marker: { color: FG.palette.hedged } });
    }
    var shapes = [];
    var floorV = pick(res, ["floor_value"]);
    if (FG.isNum(floorV)) shapes.push({ type: "line", x0: floorV, x1: floorV, yref: "paper", y0: 0, y1: 1, line: { color: FG.palette.floor, dash: "dash", width: 2 } });
    FG.plot(chart, traces, { barmode: "overlay", shapes: shapes, xaxis: { title: { text: "portfolio value at horizon ($), " + label + " scenario" }, tickprefix: "$" }, yaxis: { title: { text: "probability" } } });
    var narrative = pick(res, ["narrative", "text"]);
    if (narrative) body.appendChild(el("p", { class: "small", id: "scenario-narrative" }, narrative));
    body.appendChild(el("p", { class: "small muted" }, (pick(res, ["paths", "n_paths"]) ? fmt.int(pick(res, ["paths", "n_paths"])) + " simulated paths" : "Simulated paths") +
      (pick(res, ["seed"]) !== null ? ", seed " + pick(res, ["seed"]) : "") + ". ", FG.estimateTag("Monte Carlo estimate")));
  }

  var scenarioSeq = 0;
  function runScenario() {
    var idx = parseInt(FG.$("#severity").value, 10);
    var preset = PRESETS[idx];
    var seq = ++scenarioSeq;
    return FG.panel("scenario", function (body) {
      return Promise.all([FG.requirePortfolio(), opportunities().catch(function () { return null; })]).then(function (res) {
        var rows = res[1] ? rankedRows(res[1]) : [];
        var choice = rows[parseInt(FG.$("#scenario-hedge").value || "0", 10)] || null;
        var payload = { portfolio_id: res[0], preset: preset, seed: 7 };
        if (choice) {
          if (choice.draft_id) payload.draft_id = choice.draft_id;
          payload.strategy = pick(choice, ["strategy", "structure"]);
          if (choice.id !== undefined) payload.strategy_id = choice.id;
        }
        return FG.api("/api/insurance/scenario", { method: "POST", body: payload }).catch(notAvailable("The scenario simulator"));
      }).then(function (result) {
        if (seq !== scenarioSeq) return;
        renderScenario(body, result, PRESET_LABELS[idx]);
      });
    });
  }

  FG.onReady(function () {
    FG.panel("uncertainty", function (b) { return opportunities().then(function (d) { renderWindows(b, d); }); });
    FG.panel("ranked", function (b) { return opportunities().then(function (d) { renderRanked(b, d); }); });
    var slider = FG.$("#severity");
    var timer = null;
    slider.addEventListener("input", function () {
      FG.$("#severity-out").textContent = PRESET_LABELS[parseInt(slider.value, 10)];
      window.clearTimeout(timer);
      timer = window.setTimeout(runScenario, 300);
    });
    FG.$("#scenario-form").addEventListener("submit", function (ev) { ev.preventDefault(); window.clearTimeout(timer); runScenario(); });
    runScenario();
    FG.onPortfolioChange(function () { oppPromise = null; FG.rerun("uncertainty"); FG.rerun("ranked"); runScenario(); });
  });
})();
