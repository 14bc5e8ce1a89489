// Opportunities page (seed 20.7-20.8): uncertainty windows (drivers, window,
// probability bands), the ranked hedge table, and a scenario panel whose
// severity slider reruns the Monte Carlo simulator and redraws the hedged
// against unhedged distributions. Every figure is a model estimate.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt, pick = FG.pick;
  var PRESETS = ["mild", "base", "severe", "tail"];
  var PRESET_LABELS = ["Mild", "Base", "Severe", "Tail"];

  // A 404/405 from the route itself (not from a missing object) means the server
  // has no opportunity engine: say so plainly.
  function notAvailable(what) {
    return function (err) {
      var routeMissing = err && (err.status === 405 || (err.status === 404 && /^not found$/i.test(String(err.detail || "").trim())));
      if (routeMissing) {
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

  function band(lo, hi, mid) {
    var parts = [fmt.signedPct(lo, 1)];
    if (FG.isNum(mid)) parts.push(fmt.signedPct(mid, 1));
    parts.push(fmt.signedPct(hi, 1));
    return parts.join(" / ");
  }

  // ---------------------------------------------------------------- windows
  function renderWindows(body, data) {
    var windows = data.windows || [];
    var badges = FG.clear(document.querySelector('[data-badges="uncertainty"]'));
    badges.appendChild(FG.estimateTag(data.label));
    if (data.as_of) badges.appendChild(document.createTextNode(" as of " + fmt.date(data.as_of)));
    if (!windows.length) { body.appendChild(el("div", { class: "empty" }, "No uncertainty window ahead in the forecast horizon.")); }
    var probs = null;
    body.appendChild(el("div", { class: "uncertainty-cards", id: "uncertainty-cards" }, windows.map(function (w) {
      probs = w.band_probabilities || [0.05, 0.95];
      var dd = w.drawdown || {};
      var vb = w.vol_band || {}, mb = w.move_band || {}, db = w.drawdown_band || {};
      var bandName = fmt.pct(probs[0], 0) + "–" + fmt.pct(probs[1], 0);
      return el("div", { class: "ucard", dataset: { window: w.id } },
        el("h4", null, w.reason || "Uncertainty window", " ", FG.tag("severity " + fmt.num(w.severity, 2), w.severity > 0.6 ? "bad" : (w.severity > 0.3 ? "warn" : "info"))),
        el("div", { class: "small" }, el("strong", null, fmt.date(w.start) + " → " + fmt.date(w.end)), " (" + fmt.int(w.trading_days) + " trading days)"),
        el("h3", null, "Drivers"),
        el("ul", { class: "small" }, (w.drivers || []).map(function (d) {
          return el("li", null, el("strong", null, String(d.kind || "").replace(/_/g, " ")), ": " + (d.detail || fmt.num(d.value, 2)));
        })),
        el("h3", null, "Probability bands (" + bandName + ")"),
        el("table", { class: "data small" }, el("tbody", null,
          el("tr", null, el("td", null, "index move"), el("td", { class: "num" }, band(mb.lower, mb.upper))),
          el("tr", null, el("td", null, "volatility"), el("td", { class: "num" }, fmt.pct(vb.lower, 1) + " / " + fmt.pct(vb.central, 1) + " / " + fmt.pct(vb.upper, 1))),
          el("tr", null, el("td", null, "drawdown"), el("td", { class: "num" }, band(db.lower, db.upper))),
          el("tr", null, el("td", null, "portfolio return P5 / median / P95"), el("td", { class: "num" }, band(dd.p5, dd.p95, dd.median))),
          el("tr", null, el("td", null, "P(loss > 5%) · P(loss > 10%)"), el("td", { class: "num" }, fmt.pct(dd.p_loss_5, 1) + " · " + fmt.pct(dd.p_loss_10, 1))),
          FG.isNum(w.p_high_vol) ? el("tr", null, el("td", null, "P(high-volatility regime)"), el("td", { class: "num" }, fmt.pct(w.p_high_vol, 0))) : null)),
        (w.events || []).length ? el("div", { class: "small" }, "Events: " + w.events.map(function (e) { return (e.type || e.kind || "event") + " " + fmt.date(e.date || e.start); }).join(", ")) : null,
        el("div", { class: "small muted" }, (dd.n_paths ? fmt.int(dd.n_paths) + " simulated paths. " : ""), FG.estimateTag(dd.label)));
    })));
    var narrative = pick(data, ["narrative.text"]);
    if (narrative) body.appendChild(el("p", { class: "small", id: "opportunity-narrative" }, narrative,
      " ", FG.tag(pick(data, ["narrative.choice"], "template") === "llm" ? "LLM-rephrased, numbers checked" : "template narrative", "info")));
    (data.warnings || []).forEach(function (w) { body.appendChild(el("div", { class: "notice small" }, "\u26A0 " + w)); });
  }

  // ---------------------------------------------------------------- ranked hedges
  function candidates(data) { return pick(data, ["recommendations.candidates"], []) || []; }

  function renderRanked(body, data) {
    var rows = candidates(data);
    if (!rows.length) { body.appendChild(el("div", { class: "empty" }, "No hedge recommended.")); return; }
    body.appendChild(el("p", { class: "small muted" }, "Score = " + (pick(data, ["recommendations.score_formula"]) || "(ES reduction − premium) / residual risk") +
      ". ES at " + fmt.pct(pick(data, ["windows.0.drawdown.level"], 0.95), 0) + " over the window; premiums of the synthetic chain are estimates. ", FG.estimateTag()));
    body.appendChild(FG.table([
      { label: "#", fmt: function (r, i) { return String(i + 1); } },
      { label: "Expiry", fmt: function (r) { return el("span", { title: r.role ? "expiry " + r.role + " the window" : null }, fmt.date(r.expiry)); } },
      { label: "Structure", fmt: function (r) { return String(r.structure).replace(/_/g, " "); } },
      { label: "Put strike", num: true, fmt: function (r) { return fmt.num(r.put_strike, r.put_strike % 1 ? 2 : 0); } },
      { label: "Call strike", num: true, fmt: function (r) { return FG.isNum(r.call_strike) ? fmt.num(r.call_strike, r.call_strike % 1 ? 2 : 0) : "–"; } },
      { label: "Premium", num: true, fmt: function (r) { return fmt.money(r.premium); } },
      { label: "Coverage", num: true, fmt: function (r) { return fmt.num(r.coverage_pct, 0) + "%"; } },
      { label: "Breakeven", num: true, fmt: function (r) { return fmt.num(r.breakeven, 2); } },
      { label: "ES cut", num: true, title: "unhedged ES − hedged ES", fmt: function (r) { return fmt.money(r.es_reduction); } },
      { label: "Residual", num: true, fmt: function (r) { return fmt.money(r.residual_risk); } },
      { label: "Score", num: true, fmt: function (r) { return fmt.num(r.score, 3); } },
      { label: "", fmt: function (r, i) {
        return el("button", { type: "button", class: "btn btn-small hedge-now", dataset: { rank: String(i + 1) },
          onclick: function (ev) { ev.stopPropagation(); hedgeNow(data, r, ev.target); } }, "Hedge now…");
      } }
    ], rows, {
      id: "ranked-table",
      rowClass: function (r, i) { return i === selectedIndex() ? "selected" : null; },
      onRowClick: function (r, tr) {
        var i = rows.indexOf(r);
        FG.$("#scenario-hedge").value = String(i);
        document.querySelectorAll("#ranked-table tr.selected").forEach(function (n) { n.classList.remove("selected"); });
        tr.classList.add("selected");
        runScenario();
      }
    }));
    body.appendChild(el("div", { id: "hedge-status" }));
    var sel = FG.clear(FG.$("#scenario-hedge"));
    sel.appendChild(el("option", { value: "" }, "protective put at a 90% floor (default)"));
    rows.forEach(function (r, i) {
      sel.appendChild(el("option", { value: String(i) }, (i + 1) + ". " + String(r.structure).replace(/_/g, " ") + " " + fmt.date(r.expiry) + " (score " + fmt.num(r.score, 2) + ")"));
    });
    sel.value = "0";
  }
  // "Hedge now" (seed 20.7 step 4): the engine quotes a draft for the recommendation,
  // then the shared confirmation dialog shows its final prices and binds it.
  function hedgeNow(data, r, button) {
    button.disabled = true;
    var status = FG.$("#hedge-status");
    FG.clear(status).appendChild(el("div", { class: "loading" }, el("span", { class: "spinner" }), "Quoting the " + String(r.structure).replace(/_/g, " ") + "…"));
    FG.api("/api/insurance/opportunities/hedge", { method: "POST",
      body: { recommendation_id: data.recommendation_id, structure: r.structure, expiry: r.expiry } })
      .then(function (resp) {
        FG.clear(status);
        FG.openBind(resp.draft, resp.draft_id, resp.expires_at);
      }, function (err) { FG.clear(status).appendChild(FG.errorBox(err, function () { hedgeNow(data, r, button); })); })
      .then(function () { button.disabled = false; });
  }

  function selectedIndex() {
    var v = FG.$("#scenario-hedge") ? FG.$("#scenario-hedge").value : "";
    return v === "" ? -1 : parseInt(v, 10);
  }

  // ---------------------------------------------------------------- scenario
  function q(side, key) { return pick(side || {}, [key + ".value", key]); }

  function renderScenario(body, res, label) {
    var r = res.result || res;
    var un = r.unhedged || {}, he = r.hedged || {};
    var v0 = r.initial_value;
    var hedge = res.hedge || null;
    body.appendChild(el("div", { class: "kpis", id: "scenario-kpis" },
      FG.kpi("Unhedged P5 / median / P95", [q(un, "p5"), q(un, "median"), q(un, "p95")].map(fmt.kmoney).join(" / "), "value at the horizon, from " + fmt.kmoney(v0)),
      FG.kpi("Hedged P5 / median / P95", [q(he, "p5"), q(he, "median"), q(he, "p95")].map(fmt.kmoney).join(" / "), hedge ? String(hedge.strategy).replace(/_/g, " ") + ", premium " + fmt.money(hedge.premium_net) : "no hedge"),
      FG.kpi("Expected net payoff", fmt.money(q(r, "expected_net_payoff")), FG.isNum(pick(r, ["expected_net_payoff.se"])) ? "± " + fmt.money(pick(r, ["expected_net_payoff.se"])) + " (MC s.e.)" : null),
      FG.kpi("ES " + fmt.pct(r.level, 0), fmt.pct(q(r, "es_unhedged"), 1) + " → " + fmt.pct(q(r, "es_hedged"), 1), "unhedged → hedged"),
      FG.kpi("P(floor breach)", fmt.pct(q(r, "p_floor_breach_unhedged"), 1) + " → " + fmt.pct(q(r, "p_floor_breach_hedged"), 1), "floor " + fmt.money(r.floor))));
    var chart = el("div", { class: "chart", id: "scenario-chart" });
    body.appendChild(chart);
    var sc = r.scenario || res.scenario || {};
    var title = label + " scenario: index " + fmt.signedPct(sc.index_move, 0) + ", volatility ×" + fmt.num(sc.vol_multiplier, 2) + ", " + fmt.int(sc.horizon_days) + " trading days";
    var hu = pick(un, ["histogram"]), hh = pick(he, ["histogram"]);
    var traces = [];
    var layout = { barmode: "overlay", xaxis: { title: { text: "portfolio value at the horizon ($) — " + title }, tickprefix: "$" }, shapes: [] };
    if (hu && hh) {
      // the simulator's histograms of final values
      traces.push({ type: "bar", x: hu.centers, y: hu.density || hu.counts, name: "Unhedged", opacity: 0.55, marker: { color: FG.palette.port } });
      traces.push({ type: "bar", x: hh.centers, y: hh.density || hh.counts, name: "Hedged", opacity: 0.55, marker: { color: FG.palette.hedged } });
      layout.yaxis = { title: { text: "probability" } };
    } else {
      // the distributions as the simulator reports them: P5-P95 range, median and mean
      ["Unhedged", "Hedged"].forEach(function (name, i) {
        var side = i ? he : un, color = i ? FG.palette.hedged : FG.palette.port;
        traces.push({ type: "scatter", mode: "lines", x: [q(side, "p5"), q(side, "p95")], y: [name, name], name: name + " P5–P95",
          line: { color: color, width: 18 }, opacity: 0.45, hovertemplate: name + " %{x:$,.0f}<extra></extra>" });
        traces.push({ type: "scatter", mode: "markers", x: [q(side, "median")], y: [name], name: name + " median",
          marker: { color: color, size: 16, symbol: "line-ns-open", line: { width: 4, color: color } }, hovertemplate: "median %{x:$,.0f}<extra></extra>" });
        traces.push({ type: "scatter", mode: "markers", x: [q(side, "mean")], y: [name], name: name + " mean",
          marker: { color: color, size: 10, symbol: "diamond" }, hovertemplate: "mean %{x:$,.0f}<extra></extra>" });
      });
      layout.yaxis = { type: "category", categoryorder: "array", categoryarray: ["Hedged", "Unhedged"], range: [-0.7, 1.7] };
      var xs = [q(un, "p5"), q(he, "p5"), q(un, "p95"), q(he, "p95"), r.floor, v0].filter(FG.isNum);
      var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs), pad = (hi - lo) * 0.06;
      layout.xaxis.range = [lo - pad, hi + pad];
      layout.showlegend = false;
      chart.className = "chart short";
    }
    if (FG.isNum(r.floor)) {
      layout.shapes.push({ type: "line", x0: r.floor, x1: r.floor, yref: "paper", y0: 0, y1: 1, line: { color: FG.palette.floor, dash: "dash", width: 2 } });
      layout.annotations = [{ x: r.floor, yref: "paper", y: 1.0, text: "floor", showarrow: false, yanchor: "bottom", font: { color: FG.palette.floor } }];
    }
    if (FG.isNum(v0)) layout.shapes.push({ type: "line", x0: v0, x1: v0, yref: "paper", y0: 0, y1: 1, line: { color: FG.palette.bench, dash: "dot", width: 1 } });
    FG.plot(chart, traces, layout);
    var narrative = pick(res, ["narrative.text"]);
    if (narrative) body.appendChild(el("p", { class: "small", id: "scenario-narrative" }, narrative));
    body.appendChild(el("p", { class: "small muted" }, fmt.int(r.n_paths) + " simulated paths. " +
      (hu && hh ? "" : "Bars span P5–P95 of the simulated values, the tick marks the median and the diamond the mean; ") +
      "the dotted line is today's value. ", FG.estimateTag(r.label || "Monte Carlo estimate")));
  }

  var scenarioSeq = 0;
  function runScenario() {
    var idx = parseInt(FG.$("#severity").value, 10);
    var seq = ++scenarioSeq;
    return FG.panel("scenario", function (body) {
      return FG.requirePortfolio().then(function (pid) {
        var payload = { portfolio_id: parseInt(pid, 10), preset: PRESETS[idx], seed: 7 };
        var data = oppPromise ? oppPromise.catch(function () { return null; }) : Promise.resolve(null);
        return data.then(function (opp) {
          var choice = opp ? candidates(opp)[selectedIndex()] : null;
          if (choice) {
            payload.strategy = choice.structure;
            if (FG.isNum(choice.floor_pct)) payload.floor_pct = choice.floor_pct;
            if (FG.isNum(choice.term_days)) payload.term_days = choice.term_days;
          }
          return FG.api("/api/insurance/scenario", { method: "POST", body: payload }).catch(notAvailable("The scenario simulator"));
        });
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
    FG.$("#scenario-hedge").addEventListener("change", runScenario);
    FG.$("#scenario-form").addEventListener("submit", function (ev) { ev.preventDefault(); window.clearTimeout(timer); runScenario(); });
    // the scenario waits for the ranked table (to use its top hedge), then runs
    opportunities().catch(function () { return null; }).then(runScenario);
    FG.onPortfolioChange(function () { oppPromise = null; FG.rerun("uncertainty"); FG.rerun("ranked"); opportunities().catch(function () { return null; }).then(runScenario); });
  });
})();
