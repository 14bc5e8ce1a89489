// Risk metrics page: market beta card, sector exposure vs S&P 500, concentration,
// VaR/ES, correlation heatmap, drawdown chart, stress table with and without hedge.
// Everything comes from GET /api/v1/analytics/portfolio/{id}/risk-metrics (the
// RiskMetricsService payload); the drawdown curve from /ui/api/.../drawdown.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt, pick = FG.pick;

  var BETA_BADGES = {
    multivariate: ["multivariate", "good", "Multi-factor regression passed its quality checks"],
    single_factor: ["single-factor fallback", "warn", "The multi-factor regression was poor or lacked the market factor: OLS on the market alone"],
    provided: ["provided", "info", "Betas given with the portfolio"],
    "default": ["default 1.0", "bad", "No history and no provided beta: beta assumed (an assumption, not an estimate)"],
    mixed: ["mixed paths", "info", "Positions took different paths; see the table"]
  };

  var shared = null;
  function load() {
    if (!shared) {
      shared = FG.requirePortfolio().then(function (id) {
        return FG.api("/api/v1/analytics/portfolio/" + encodeURIComponent(id) + "/risk-metrics")
          .then(function (r) { return { id: id, risk: r.report || r }; });
      });
      shared.catch(function () { shared = null; });  // a retry refetches
    }
    return shared;
  }

  function skipBox(section) {
    if (section && section.available === false) {
      return el("div", { class: "notice" }, "Not computed: " + (section.message || section.skip_reason || "no data") +
        (section.quality_flag ? " (" + section.quality_flag + ")" : ""));
    }
    return null;
  }

  function setBadges(panel, nodes) {
    var holder = FG.clear(document.querySelector('[data-badges="' + panel + '"]'));
    nodes.forEach(function (n, i) { if (i) holder.appendChild(document.createTextNode(" ")); holder.appendChild(n); });
  }

  // ---------------------------------------------------------------- beta
  function renderBeta(body, data) {
    var r = data.risk;
    var pb = pick(r, ["beta.portfolio"], {}) || {};
    var positions = pick(r, ["beta.positions"], {}) || {};
    var md = r.metadata || {};
    var source = pb.beta_source || md.beta_source || "default";
    var badge = BETA_BADGES[source] || [String(source), "info", ""];
    var b = FG.tag(badge[0], badge[1], badge[2]);
    b.id = "beta-badge";
    setBadges("beta", [b, FG.estimateTag("Regression estimate on daily returns")]);
    var skip = skipBox(pb);
    if (skip) { body.appendChild(skip); }
    var rows = Object.keys(positions).map(function (s) { return Object.assign({ symbol: s }, positions[s]); });
    var r2 = rows.map(function (x) { return x.r_squared; }).filter(FG.isNum);
    var r2min = r2.length ? Math.min.apply(null, r2) : null, r2max = r2.length ? Math.max.apply(null, r2) : null;
    var win = md.window || {};
    body.appendChild(el("div", { class: "kpis" },
      FG.kpi("Portfolio beta", fmt.num(pb.beta, 2), "vs S&P 500, exposure-weighted", { id: "kpi-beta" }),
      FG.kpi("R²", r2.length ? (r2.length > 1 ? fmt.num(r2min, 2) + "–" + fmt.num(r2max, 2) : fmt.num(r2min, 2)) : "–",
        "of the position regressions", { id: "kpi-r2" }),
      FG.kpi("Observations", fmt.int(md.observations), "daily returns", { id: "kpi-obs" })));
    body.appendChild(el("p", { class: "small muted", id: "beta-window" },
      "Window " + fmt.date(win.start) + " → " + fmt.date(win.end) + " (" + fmt.int(win.trading_days) + " trading days)" +
      (win.clipped_to_data ? ", clipped to the data" : "") + "."));
    (pb.warnings || []).forEach(function (w) { body.appendChild(el("div", { class: "notice" }, "\u26A0 " + w)); });
    if (rows.length) {
      body.appendChild(FG.table([
        { label: "Symbol", key: "symbol" },
        { label: "Beta", num: true, fmt: function (x) { return fmt.num(x.beta, 2); } },
        { label: "R²", num: true, fmt: function (x) { return FG.isNum(x.r_squared) ? fmt.num(x.r_squared, 2) : "–"; } },
        { label: "Obs", num: true, fmt: function (x) { return fmt.int(x.observations); } },
        { label: "Path", fmt: function (x) {
          var bb = BETA_BADGES[x.beta_source] || [x.beta_source, "info", ""];
          return FG.tag(bb[0], bb[1], x.fallback_reason || bb[2]);
        } }
      ], rows, { id: "beta-table", extraClass: "compact" }));
    }
  }

  // ---------------------------------------------------------------- sectors
  function renderSectors(body, data) {
    var s = data.risk.sectors || {};
    var port = s.net || {}, bench = s.benchmark || {};
    var names = Object.keys(Object.assign({}, bench, port));
    names.sort(function (a, b) { return ((port[b] || 0) - (port[a] || 0)) || ((bench[b] || 0) - (bench[a] || 0)); });
    var chart = el("div", { class: "chart", id: "sector-chart" });
    body.appendChild(chart);
    var ys = names.slice().reverse();
    FG.plot(chart, [
      { type: "bar", orientation: "h", name: "Portfolio (net)", y: ys, x: ys.map(function (k) { return (port[k] || 0) * 100; }), marker: { color: FG.palette.hedged },
        hovertemplate: "%{y}: %{x:.1f}%<extra>portfolio</extra>" },
      { type: "bar", orientation: "h", name: "S&P 500" + (s.benchmark_as_of ? " (" + fmt.date(s.benchmark_as_of) + ")" : ""), y: ys,
        x: ys.map(function (k) { return (bench[k] || 0) * 100; }), marker: { color: FG.palette.bench },
        hovertemplate: "%{y}: %{x:.1f}%<extra>S&P 500</extra>" }
    ], { barmode: "group", bargap: 0.25, xaxis: { ticksuffix: "%", title: { text: "weight (%)" } }, margin: { l: 160, r: 10, t: 30, b: 40 } });
    var uncl = s.unclassified || [];
    var list = el("p", { class: "small", id: "unclassified" }, "Unclassified tickers: ");
    if (uncl.length) {
      list.appendChild(el("span", { class: "flags" }, uncl.map(function (u) { return FG.tag(typeof u === "string" ? u : u.symbol, "warn"); })));
      list.appendChild(document.createTextNode(" (" + fmt.pct(s.unclassified_weight, 1) + " of gross)"));
    } else list.appendChild(el("span", { class: "muted" }, "none"));
    body.appendChild(list);
    if (s.benchmark_source) body.appendChild(el("p", { class: "small muted" }, "Benchmark: " + s.benchmark_source));
  }

  // ---------------------------------------------------------------- concentration
  function renderConcentration(body, data) {
    var c = data.risk.concentration || {};
    body.appendChild(el("div", { class: "kpis" },
      FG.kpi("HHI", fmt.num(c.hhi, 3), "sum of squared weights", { id: "kpi-hhi" }),
      FG.kpi("Effective N", fmt.num(c.effective_positions, 1), "1 / HHI, of " + fmt.int(c.positions), { id: "kpi-effn" }),
      FG.kpi("Top 3", fmt.pct(c.top_3, 1), "of gross exposure", { id: "kpi-top3" }),
      FG.kpi("Top 10", fmt.pct(c.top_10, 1), "of gross exposure", { id: "kpi-top10" })));
    var largest = c.largest || [];
    if (largest.length) {
      body.appendChild(el("h3", null, "Largest positions"));
      var chart = el("div", { class: "chart short", id: "largest-chart" });
      body.appendChild(chart);
      var top = largest.slice(0, 10).reverse();
      FG.plot(chart, [{ type: "bar", orientation: "h", y: top.map(function (x) { return x.symbol; }), x: top.map(function (x) { return x.weight * 100; }),
        marker: { color: FG.palette.port }, hovertemplate: "%{y}: %{x:.1f}%<extra></extra>" }],
        { xaxis: { ticksuffix: "%" }, margin: { l: 56, r: 10, t: 4, b: 30 }, showlegend: false });
    }
  }

  // ---------------------------------------------------------------- VaR / ES
  function renderVar(body, data) {
    var m = data.risk.measures || {};
    var skip = skipBox(m);
    if (skip) { body.appendChild(skip); return; }
    var v = m.value_at_risk || {}, e = m.expected_shortfall || {};
    var net = pick(data.risk, ["portfolio.net_value"]);
    var rows = ["historical", "gaussian", "cornish_fisher"].map(function (k) {
      return { method: k.replace("_", "-"), var: v[k], es: e[k] };
    });
    setBadges("var", [FG.estimateTag("Estimated from the window's daily returns")]);
    body.appendChild(el("p", { class: "small muted" }, "One-day losses at the " + fmt.pct(m.level, 0) + " level, as a fraction of today's value" +
      (FG.isNum(net) ? " (dollars on " + fmt.money(net) + ")" : "") + "."));
    body.appendChild(FG.table([
      { label: "Method", key: "method" },
      { label: "VaR", num: true, fmt: function (x) { return fmt.pct(x.var, 2); } },
      { label: "VaR $", num: true, fmt: function (x) { return FG.isNum(net) ? fmt.money(x.var * net) : "–"; } },
      { label: "ES", num: true, fmt: function (x) { return fmt.pct(x.es, 2); } },
      { label: "ES $", num: true, fmt: function (x) { return FG.isNum(net) ? fmt.money(x.es * net) : "–"; } }
    ], rows, { id: "var-table" }));
    body.appendChild(el("div", { class: "kpis", style: "margin-top:10px" },
      FG.kpi("Volatility", fmt.pct(m.annual_volatility, 1), "annualised"),
      FG.kpi("Sharpe", fmt.num(m.sharpe, 2), "rf = 0"),
      FG.kpi("Sortino", fmt.num(m.sortino, 2))));
  }

  // ---------------------------------------------------------------- correlation
  function renderCorrelation(body, data) {
    var c = data.risk.correlation;
    if (!c || !Object.keys(c).length) { body.appendChild(el("div", { class: "empty" }, "A correlation matrix needs two or more positions with history.")); return; }
    var syms = Object.keys(c);
    var z = syms.map(function (row) { return syms.map(function (col) { return c[col][row]; }); });
    var chart = el("div", { class: "chart tall", id: "corr-chart" });
    body.appendChild(chart);
    FG.plot(chart, [{
      type: "heatmap", z: z, x: syms, y: syms, zmin: -1, zmax: 1, colorscale: "RdBu", xgap: 1, ygap: 1,
      texttemplate: syms.length <= 12 ? "%{z:.2f}" : "", textfont: { size: 10 },
      hovertemplate: "%{y} / %{x}: %{z:.2f}<extra></extra>", colorbar: { thickness: 10 }
    }], { yaxis: { autorange: "reversed" }, margin: { l: 60, r: 10, t: 6, b: 50 } });
    var dr = data.risk.diversification_ratio;
    if (FG.isNum(dr)) body.appendChild(el("p", { class: "small muted" }, "Diversification ratio " + fmt.num(dr, 2) + " (weighted average volatility / portfolio volatility)."));
  }

  // ---------------------------------------------------------------- drawdown
  function renderDrawdown(body, data) {
    var m = data.risk.measures || {};
    var skip = skipBox(m);
    if (skip) { body.appendChild(skip); return Promise.resolve(); }
    var d = m.drawdown || {};
    body.appendChild(el("p", { class: "small", id: "drawdown-summary" }, "Worst: ", el("strong", null, fmt.pct(m.max_drawdown, 1)),
      " from " + fmt.date(d.peak) + " to " + fmt.date(d.trough) +
      (d.recovered ? ", recovered " + fmt.date(d.recovery) : ", not recovered in the window") +
      ". Current: " + fmt.pct(m.current_drawdown, 1) + "."));
    var md = data.risk.metadata || {}, win = md.window || {};
    var syms = md.public_positions || [];
    var q = "?start=" + encodeURIComponent(win.start) + "&end=" + encodeURIComponent(win.end) + "&symbols=" + encodeURIComponent(syms.join(","));
    return FG.api("/ui/api/portfolios/" + encodeURIComponent(data.id) + "/drawdown" + q).then(function (s) {
      var chart = el("div", { class: "chart", id: "drawdown-chart" });
      body.appendChild(chart);
      FG.plot(chart, [{ x: s.dates, y: s.drawdown.map(function (v) { return v * 100; }), type: "scatter", mode: "lines", fill: "tozeroy",
        line: { color: FG.palette.floor, width: 1 }, fillcolor: "rgba(220,38,38,0.18)", name: "drawdown", hovertemplate: "%{x}: %{y:.1f}%<extra></extra>" }],
        { yaxis: { ticksuffix: "%", title: { text: "below the running peak" } }, showlegend: false });
      body.appendChild(el("p", { class: "small muted" }, "Public sleeve held at today's weights (a backtest of the current mix, not its realised history)."));
    });
  }

  // ---------------------------------------------------------------- stress
  // The report's scenarios unhedged and, when the portfolio has a live policy,
  // hedged with its legs (the risk service's stress.hedge says which and how).
  function renderStress(body, data) {
    var st = data.risk.stress || {};
    var skip = skipBox(st);
    if (skip) { body.appendChild(skip); return; }
    var rows = [];
    ["historical", "market_shocks", "factor_shocks"].forEach(function (k) { if (Array.isArray(st[k])) rows = rows.concat(st[k]); });
    var hedge = st.hedge || null;
    var pols = (hedge && hedge.policies) || [];
    setBadges("stress", [st.hedged ? FG.tag("hedge applied", "good") : FG.tag("no active hedge", null, "bind a policy to see hedged figures"), FG.estimateTag()]);
    body.appendChild(el("p", { class: "small muted", id: "stress-note" }, st.hedged
      ? "Hedged columns add " + (pols.length ? pols.map(function (p) { return "policy #" + p.policy_id + " (" + String(p.strategy).replace(/_/g, " ") + ")"; }).join(", ") : "the given hedge") +
        (hedge && hedge.definition ? ": " + hedge.definition + "." : ".")
      : "This portfolio has no live policy: the hedged columns stay empty until you bind one on the Insurance page."));
    body.appendChild(FG.table([
      { label: "Scenario", fmt: function (x) { return el("span", { title: pick(x, ["details.description"], "") }, humanize(x.name)); } },
      { label: "Kind", fmt: function (x) { return FG.tag(String(x.kind).replace(/_/g, " "), x.kind === "historical" ? "info" : null); } },
      { label: "Period / shock", fmt: function (x) {
        var d = x.details || {};
        if (d.start && d.end) return fmt.date(d.start) + " → " + fmt.date(d.end);
        if (d.shocks) return Object.keys(d.shocks).map(function (k) { return k.replace(/_/g, " ") + " " + fmt.signedPct(d.shocks[k], 0); }).join(", ");
        return "";
      } },
      { label: "Market", num: true, fmt: function (x) { return fmt.signedPct(x.market_return, 1); } },
      { label: "Unhedged", num: true, fmt: function (x) { return fmt.signedPct(x.portfolio_return, 1); } },
      { label: "Unhedged P/L", num: true, fmt: function (x) { return fmt.money(x.pnl); } },
      { label: "Hedge P/L", num: true, fmt: function (x) { return FG.isNum(x.hedge_pnl) ? fmt.money(x.hedge_pnl) : "–"; } },
      { label: "Hedged", num: true, fmt: function (x) { return FG.isNum(x.hedged_return) ? fmt.signedPct(x.hedged_return, 1) : "–"; } },
      { label: "Hedged P/L", num: true, fmt: function (x) { return FG.isNum(x.hedged_pnl) ? fmt.money(x.hedged_pnl) : "–"; } }
    ], rows, { id: "stress-table" }));
    if (st.factor_shocks_note) body.appendChild(el("p", { class: "small muted" }, "Factor shocks: " + st.factor_shocks_note + "."));
  }

  function humanize(name) {
    var s = String(name || "").replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  var RENDER = { beta: renderBeta, sectors: renderSectors, concentration: renderConcentration, "var": renderVar,
    correlation: renderCorrelation, drawdown: renderDrawdown, stress: renderStress };

  function loadAll() {
    shared = null;
    Object.keys(RENDER).forEach(function (name) {
      FG.panel(name, function (body) { return load().then(function (d) { return RENDER[name](body, d); }); });
    });
  }
  FG.onReady(function () { loadAll(); FG.onPortfolioChange(loadAll); });
})();
