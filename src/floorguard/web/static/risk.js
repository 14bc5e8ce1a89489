// Risk metrics page: market beta card, sector exposure vs S&P 500, concentration,
// VaR/ES, correlation heatmap, drawdown chart, stress table with and without hedge.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt;

  function pick(obj, keys, dflt) {
    for (var i = 0; i < keys.length; i++) {
      var parts = keys[i].split(".");
      var v = obj;
      for (var j = 0; j < parts.length && v !== null && v !== undefined; j++) v = v[parts[j]];
      if (v !== undefined && v !== null) return v;
    }
    return dflt === undefined ? null : dflt;
  }

  var BETA_BADGES = {
    multivariate: ["multivariate", "good", "Multi-factor regression passed its quality checks"],
    single_factor: ["single-factor fallback", "warn", "The multi-factor regression was poor or lacked the market factor; OLS on the market alone was used"],
    provided: ["provided", "info", "Betas given with the portfolio"],
    "default": ["default 1.0", "bad", "No history and no provided beta: beta assumed to be 1.0"]
  };

  var shared = null;
  function load() {
    if (!shared) {
      shared = FG.requirePortfolio().then(function (id) {
        var base = "/api/v1/analytics/portfolio/" + encodeURIComponent(id);
        return Promise.all([FG.api(base + "/risk-metrics"), FG.api(base + "/sector-exposure").catch(function (e) { return { _error: e }; })]);
      }).then(function (res) { return { risk: res[0], sector: res[1] }; });
      shared.catch(function () { shared = null; });  // a retry refetches
    }
    return shared;
  }

  function skipNotice(risk) {
    var reason = pick(risk, ["skip_reason", "metadata.skip_reason", "beta.skip_reason"]);
    return reason ? el("div", { class: "notice" }, "Skipped: " + reason) : null;
  }

  // ---------------------------------------------------------------- beta
  function renderBeta(body, data) {
    var r = data.risk;
    var b = pick(r, ["market_beta", "beta", "portfolio_beta_details"], {}) || {};
    if (typeof b === "number") b = { beta: b };
    var source = pick(b, ["beta_source", "source"], pick(r, ["beta_source", "metadata.beta_source"], "default"));
    var badge = BETA_BADGES[source] || [String(source), "info", ""];
    var badges = document.querySelector('[data-badges="beta"]');
    FG.clear(badges).appendChild(FG.tag(badge[0], badge[1], badge[2]));
    badges.firstChild.id = "beta-badge";
    badges.appendChild(document.createTextNode(" "));
    badges.appendChild(FG.estimateTag());
    var win = pick(b, ["window"], pick(r, ["window", "metadata.window"], {})) || {};
    var winText = typeof win === "string" ? win : (fmt.date(pick(win, ["start", "from"])) + " → " + fmt.date(pick(win, ["end", "to"])));
    body.appendChild(el("div", { class: "kpis" },
      FG.kpi("Beta", fmt.num(pick(b, ["beta", "value"]), 2), "vs " + pick(b, ["benchmark", "market"], pick(r, ["benchmark"], "S&P 500")), { id: "kpi-beta" }),
      FG.kpi("R²", fmt.num(pick(b, ["r_squared", "r2"]), 3), null, { id: "kpi-r2" }),
      FG.kpi("Observations", fmt.int(pick(b, ["observations", "n_obs"], pick(r, ["observations"]))), "daily returns", { id: "kpi-obs" })));
    body.appendChild(el("p", { class: "small muted", id: "beta-window" }, "Window: " + winText));
    var flag = pick(b, ["quality_flag"]);
    if (flag && flag !== "ok") body.appendChild(el("div", { class: "notice" }, "Regression quality: " + flag));
    (pick(b, ["warnings"], []) || []).forEach(function (w) { body.appendChild(el("div", { class: "notice" }, "\u26A0 " + w)); });
    var sk = skipNotice(r); if (sk) body.appendChild(sk);
  }

  // ---------------------------------------------------------------- sectors
  function sectorPayload(data) {
    if (data.sector && !data.sector._error) return data.sector;
    var s = pick(data.risk, ["sector_exposure", "sectors"]);
    if (s) return s;
    throw data.sector._error;
  }
  function toMap(x) {
    if (!x) return {};
    if (Array.isArray(x)) {
      var m = {};
      x.forEach(function (row) { m[row.sector || row.name] = pick(row, ["weight", "net", "net_weight", "portfolio"]); });
      return m;
    }
    return x;
  }
  function renderSectors(body, data) {
    var s = sectorPayload(data);
    var port = toMap(pick(s, ["net_weights", "weights", "portfolio", "sector_weights"]));
    var bench = toMap(pick(s, ["benchmark_weights", "benchmark", "benchmark_map"]));
    var rows = pick(s, ["sectors"]);
    if (Array.isArray(rows) && !Object.keys(port).length) {
      rows.forEach(function (row) {
        port[row.sector] = pick(row, ["net_weight", "weight", "portfolio_weight"]);
        bench[row.sector] = pick(row, ["benchmark_weight", "benchmark"]);
      });
    }
    var names = Object.keys(Object.assign({}, bench, port)).filter(function (k) { return k && k !== "null"; });
    names.sort(function (a, b) { return (port[b] || 0) - (port[a] || 0); });
    var chart = el("div", { class: "chart", id: "sector-chart" });
    body.appendChild(chart);
    FG.plot(chart, [
      { type: "bar", orientation: "h", name: "Portfolio", y: names.slice().reverse(), x: names.map(function (k) { return (port[k] || 0) * 100; }).reverse(), marker: { color: FG.palette.hedged } },
      { type: "bar", orientation: "h", name: "S&P 500" + (pick(s, ["benchmark_as_of", "benchmark_date"]) ? " (" + fmt.date(pick(s, ["benchmark_as_of", "benchmark_date"])) + ")" : ""),
        y: names.slice().reverse(), x: names.map(function (k) { return (bench[k] || 0) * 100; }).reverse(), marker: { color: FG.palette.bench } }
    ], { barmode: "group", xaxis: { ticksuffix: "%", title: { text: "weight (%)" } }, margin: { l: 150, r: 10, t: 6, b: 40 } });
    var uncl = pick(s, ["unclassified", "unclassified_tickers", "data_quality.unclassified"], []) || [];
    var list = el("p", { class: "small", id: "unclassified" }, "Unclassified tickers: ");
    if (uncl.length) list.appendChild(el("span", { class: "flags" }, uncl.map(function (u) { return FG.tag(typeof u === "string" ? u : u.symbol, "warn"); })));
    else list.appendChild(el("span", { class: "muted" }, "none"));
    body.appendChild(list);
  }

  // ---------------------------------------------------------------- concentration
  function renderConcentration(body, data) {
    var s = (data.sector && !data.sector._error) ? data.sector : {};
    var c = pick(data.risk, ["concentration"], null) || pick(s, ["concentration"], null) || s;
    body.appendChild(el("div", { class: "kpis" },
      FG.kpi("HHI", fmt.num(pick(c, ["hhi"]), 3), "sum of squared weights", { id: "kpi-hhi" }),
      FG.kpi("Effective N", fmt.num(pick(c, ["effective_n", "effective_positions", "effective_number"]), 1), "1 / HHI", { id: "kpi-effn" }),
      FG.kpi("Top 3", fmt.pct(pick(c, ["top_3", "top3", "top_3_concentration"]), 1), null, { id: "kpi-top3" }),
      FG.kpi("Top 10", fmt.pct(pick(c, ["top_10", "top10", "top_10_concentration"]), 1), null, { id: "kpi-top10" })));
  }

  // ---------------------------------------------------------------- VaR / ES
  function renderVar(body, data) {
    var r = data.risk;
    var tail = pick(r, ["tail", "var_es", "tail_risk"], r);
    var rows = [];
    var methods = ["historical", "gaussian", "cornish_fisher"];
    var v = pick(tail, ["var", "value_at_risk"], {}) || {};
    var e = pick(tail, ["es", "expected_shortfall"], {}) || {};
    methods.forEach(function (m) {
      if (v[m] !== undefined || e[m] !== undefined) rows.push({ method: m.replace("_", "-"), var: v[m], es: e[m] });
    });
    if (!rows.length && Array.isArray(tail)) rows = tail;
    var level = pick(tail, ["level", "confidence"], 0.95);
    var horizon = pick(tail, ["horizon_days"], 1);
    body.appendChild(el("p", { class: "small muted" }, fmt.pct(level, 0) + " level, " + horizon + "-day horizon, losses as a fraction of value. ", FG.estimateTag()));
    body.appendChild(FG.table([
      { label: "Method", key: "method" },
      { label: "VaR", num: true, fmt: function (x) { return fmt.pct(x.var, 2); } },
      { label: "ES", num: true, fmt: function (x) { return fmt.pct(x.es, 2); } }
    ], rows, { id: "var-table" }));
    var vol = pick(r, ["volatility", "annual_volatility", "annualized_volatility"]);
    var mdd = pick(r, ["max_drawdown.depth", "max_drawdown.max_drawdown", "max_drawdown"]);
    body.appendChild(el("div", { class: "kpis", style: "margin-top:10px" },
      FG.kpi("Volatility", fmt.pct(typeof vol === "object" ? pick(vol, ["annual", "value"]) : vol, 1), "annualised"),
      FG.kpi("Max drawdown", fmt.pct(typeof mdd === "number" ? mdd : null, 1))));
  }

  // ---------------------------------------------------------------- correlation
  function renderCorrelation(body, data) {
    var c = pick(data.risk, ["correlation", "correlation_matrix"], {}) || {};
    var syms = pick(c, ["symbols", "labels", "tickers"], []);
    var m = pick(c, ["matrix", "values"], []);
    if (!syms.length) { body.appendChild(el("div", { class: "empty" }, "Not enough positions with history for a correlation matrix.")); return; }
    var chart = el("div", { class: "chart tall", id: "corr-chart" });
    body.appendChild(chart);
    FG.plot(chart, [{
      type: "heatmap", z: m, x: syms, y: syms, zmin: -1, zmax: 1, colorscale: "RdBu", reversescale: true,
      hovertemplate: "%{y} / %{x}: %{z:.2f}<extra></extra>", colorbar: { thickness: 10 }
    }], { yaxis: { autorange: "reversed" }, margin: { l: 60, r: 10, t: 6, b: 60 } });
    var dr = pick(data.risk, ["diversification_ratio", "correlation.diversification_ratio"]);
    if (FG.isNum(dr)) body.appendChild(el("p", { class: "small muted" }, "Diversification ratio " + fmt.num(dr, 2) + " (weighted average vol / portfolio vol)."));
  }

  // ---------------------------------------------------------------- drawdown
  function renderDrawdown(body, data) {
    var r = data.risk;
    var s = pick(r, ["drawdown_series", "drawdown.series", "drawdowns"], null);
    var dates = pick(s || {}, ["dates", "index", "x"], []);
    var vals = pick(s || {}, ["values", "drawdown", "y"], []);
    if (Array.isArray(s) && s.length && typeof s[0] === "object") {
      dates = s.map(function (p) { return p.date; }); vals = s.map(function (p) { return p.drawdown !== undefined ? p.drawdown : p.value; });
    }
    var md = pick(r, ["max_drawdown"], {});
    if (typeof md === "object" && md) {
      body.appendChild(el("p", { class: "small" }, "Worst: ", el("strong", null, fmt.pct(pick(md, ["depth", "max_drawdown", "value"]), 1)),
        " from " + fmt.date(md.peak || md.peak_date) + " to " + fmt.date(md.trough || md.trough_date) +
        (md.recovery || md.recovery_date ? ", recovered " + fmt.date(md.recovery || md.recovery_date) : ", not yet recovered") +
        ". Current: " + fmt.pct(pick(r, ["current_drawdown", "max_drawdown.current"]), 1) + "."));
    }
    if (!dates.length) { body.appendChild(el("div", { class: "empty" }, "No drawdown history.")); return; }
    var chart = el("div", { class: "chart", id: "drawdown-chart" });
    body.appendChild(chart);
    FG.plot(chart, [{ x: dates, y: vals.map(function (v) { return v * 100; }), type: "scatter", mode: "lines", fill: "tozeroy",
      line: { color: FG.palette.floor, width: 1 }, name: "drawdown", hovertemplate: "%{x}: %{y:.1f}%<extra></extra>" }],
      { yaxis: { ticksuffix: "%", title: { text: "drawdown" } }, showlegend: false });
  }

  // ---------------------------------------------------------------- stress
  function renderStress(body, data) {
    var st = pick(data.risk, ["stress", "stress_tests"], []) || [];
    var rows = Array.isArray(st) ? st : pick(st, ["scenarios", "results"], []);
    var hedgeNote = pick(data.risk, ["stress_hedge", "hedge", "stress.hedge"]);
    body.appendChild(el("p", { class: "small muted" }, hedgeNote && hedgeNote.policy_id
      ? "Hedged columns use your active policy #" + hedgeNote.policy_id + "."
      : "Hedged columns use your active policy, when you have one. ", FG.estimateTag()));
    body.appendChild(FG.table([
      { label: "Scenario", fmt: function (x) { return pick(x, ["name", "scenario", "label"]); } },
      { label: "Kind", fmt: function (x) { return pick(x, ["kind", "type"], ""); } },
      { label: "Unhedged", num: true, fmt: function (x) { return fmt.signedPct(pick(x, ["unhedged_return", "portfolio_return", "unhedged", "return"]), 1); } },
      { label: "Unhedged $", num: true, fmt: function (x) { return fmt.money(pick(x, ["unhedged_pnl", "portfolio_pnl", "pnl"])); } },
      { label: "Hedged", num: true, fmt: function (x) { var h = pick(x, ["hedged_return", "hedged"]); return h === null ? "no hedge" : fmt.signedPct(h, 1); } },
      { label: "Hedged $", num: true, fmt: function (x) { return fmt.money(pick(x, ["hedged_pnl"])); } }
    ], rows, { id: "stress-table" }));
  }

  var RENDER = { beta: renderBeta, sectors: renderSectors, concentration: renderConcentration, "var": renderVar,
    correlation: renderCorrelation, drawdown: renderDrawdown, stress: renderStress };

  function loadAll() {
    shared = null;
    Object.keys(RENDER).forEach(function (name) {
      FG.panel(name, function (body) { return load().then(function (d) { RENDER[name](body, d); }); });
    });
  }
  FG.onReady(function () { loadAll(); FG.onPortfolioChange(loadAll); });
})();
