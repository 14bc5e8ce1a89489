// Insurance page: quote builder, draft (premium, source), legs, payoff diagram,
// cost-against-coverage curve, and "Hedge now" with a confirmation step.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt, pick = FG.pick;

  var state = { draft: null, draftId: null, costKey: null, seq: 0 };

  function params() {
    var p = {
      floor_pct: parseFloat(FG.$("#floor").value),
      term_days: parseInt(FG.$("#term").value, 10),
      strategy: FG.$("#strategy").value
    };
    if (p.strategy === "collar") p.upside_cap_pct = parseFloat(FG.$("#cap").value);
    return p;
  }

  function quoteBody(p) {
    var body = Object.assign({}, p, { portfolio_id: FG.portfolioId() });
    return body;
  }

  function requestQuote(p) {
    return FG.requirePortfolio().then(function () {
      return FG.api("/api/insurance/quote", { method: "POST", body: quoteBody(p) });
    }).then(function (resp) {
      var draft = resp.draft || resp;
      var id = resp.draft_id || draft.draft_id || draft.id || (resp.draft && resp.id) || null;
      return { draft: draft, id: id, expiresAt: resp.expires_at || draft.expires_at || null };
    });
  }

  // ---------------------------------------------------------------- payoff
  // The curve comes from the insurance engine (hedged_value_curve) via /ui/api/payoff-curve.
  function renderPayoff(body, d) {
    return FG.api("/ui/api/payoff-curve", { method: "POST", body: { draft: d } }).then(function (c) {
      var xs = c.index_returns.map(function (x) { return x * 100; });
      var an = d.analytics || {};
      body.appendChild(el("p", { class: "muted small" },
        "Portfolio value at expiry against the move of " + c.underlying_symbol + ", through the CAPM (beta " + fmt.num(d.beta) +
        "; Hull 17.4). Hedged value is net of the premium" + (an.floor_holds_net_of_premium === false ? "; net of the premium the worst case is " +
        fmt.money(an.worst_hedged_value) + ", " + fmt.money(d.floor_value - an.worst_hedged_value) + " under the floor" : "") + ". ",
        FG.estimateTag("CAPM mapping: the portfolio's own moves around the index (basis risk) are not shown")));
      var chart = el("div", { class: "chart", id: "payoff-chart" });
      body.appendChild(chart);
      FG.plot(chart, [
        { x: xs, y: c.unhedged, name: "Unhedged", mode: "lines", line: { color: FG.palette.port, width: 2 } },
        { x: xs, y: c.hedged, name: "Hedged (net of premium)", mode: "lines", line: { color: FG.palette.hedged, width: 3 } },
        { x: [xs[0], xs[xs.length - 1]], y: [c.floor_value, c.floor_value], name: "Floor " + fmt.pct(d.floor_pct, 0), mode: "lines",
          line: { color: FG.palette.floor, dash: "dash", width: 2 }, hoverinfo: "skip" }
      ], {
        xaxis: { title: { text: c.underlying_symbol + " move to expiry (%)" }, ticksuffix: "%" },
        yaxis: { title: { text: "portfolio value ($)" }, tickprefix: "$", separatethousands: true },
        hovermode: "x unified"
      });
    });
  }

  // ---------------------------------------------------------------- quote panels
  function renderQuote(body, d, id) {
    var an = d.analytics || {};
    var src = d.pricing_source || {};
    var premiumPct = FG.isNum(an.premium_pct) ? an.premium_pct : (d.premium_net / d.portfolio_value);
    var badges = document.querySelector('[data-badges="quote"]');
    FG.clear(badges).appendChild(FG.sourceTag(src.synthetic ? "synthetic" : (src.source || src.kind), src.as_of));
    body.appendChild(el("div", { class: "kpis" },
      FG.kpi("Premium", fmt.pct(premiumPct, 2), fmt.money(d.premium_net) + " at " + (src.synthetic ? "model ask/bid" : "ask/bid"), { id: "kpi-premium-pct" }),
      FG.kpi("Premium at mid", fmt.money(d.premium_net_mid), "estimate of fair value"),
      FG.kpi("Portfolio value", fmt.money(d.portfolio_value)),
      FG.kpi("Floor", fmt.money(d.floor_value), fmt.pct(d.floor_pct, 0) + " of value"),
      FG.kpi("Beta", fmt.num(d.beta), (d.metadata && d.metadata.beta_source) ? String(d.metadata.beta_source) : null),
      FG.kpi("Hedge ratio", FG.isNum(an.hedge_ratio) ? fmt.pct(an.hedge_ratio, 0) : "–", "achieved by whole contracts"),
      FG.kpi("Max loss hedged", FG.isNum(an.max_loss) ? fmt.money(an.max_loss) : "–", FG.isNum(an.max_loss_pct) ? fmt.pct(an.max_loss_pct, 1) : null),
      FG.kpi("Expiry", fmt.date(d.expiry), (d.underlying_symbol || d.index_symbol || "") + " @ " + fmt.num(d.underlying_level, 2))));
    var sourceLine = el("p", { class: "small", id: "pricing-source" },
      "Pricing source: ", el("strong", null, src.synthetic ? "synthetic (model chain, an estimate)" : "real chain"),
      src.source ? " · " + src.source : "", " · as of ", el("strong", null, src.as_of ? fmt.datetime(src.as_of) : "unknown"));
    body.appendChild(sourceLine);
    (d.warnings || []).forEach(function (w) { body.appendChild(el("div", { class: "notice" }, "\u26A0 " + w)); });
    var cm = pick(d, ["assumptions.capm_mapping"], {}) || {};
    var summary = FG.clear(FG.$("#builder-summary"));
    summary.appendChild(el("h3", null, "What this buys"));
    summary.appendChild(el("ul", null,
      el("li", null, "A floor of " + fmt.money(d.floor_value) + " (" + fmt.pct(d.floor_pct, 0) + " of " + fmt.money(d.portfolio_value) + ") until " + fmt.date(d.expiry) + "."),
      FG.isNum(an.floor_level) ? el("li", null, "Through the CAPM (beta " + fmt.num(d.beta) + ") the floor is " + d.underlying_symbol + " at " +
        fmt.num(an.floor_level, 2) + ", " + fmt.signedPct(an.floor_level / d.underlying_level - 1, 1) + " from " + fmt.num(d.underlying_level, 2) + ".") : null,
      FG.isNum(an.breakeven_return) ? el("li", null, "Breakeven: the index must rise " + fmt.signedPct(an.breakeven_return, 2) + " to pay back the premium.") : null,
      FG.isNum(an.max_loss_pct) ? el("li", null, "Worst case with the hedge: a loss of " + fmt.pct(an.max_loss_pct, 1) + " (" + fmt.money(an.max_loss) + "), premium included.") : null,
      cm && cm.method ? el("li", null, "Mapping: " + cm.method + ".") : null));
    var actions = el("div", { class: "form-row", style: "margin-top:10px" },
      el("button", { type: "button", class: "btn btn-primary", id: "hedge-now", disabled: id ? null : true, onclick: openBind }, "Hedge now…"),
      id ? el("span", { class: "muted small" }, "draft " + id) : el("span", { class: "muted small" }, "this draft has no id to bind"));
    body.appendChild(actions);
  }

  function renderLegs(body, d) {
    body.appendChild(FG.legsTable(d, "legs-table"));
    var reasons = (d.legs || []).filter(function (l) { return l.strike_reason; });
    if (reasons.length) {
      body.appendChild(el("h3", null, "Why these strikes"));
      body.appendChild(el("ul", { class: "small" }, reasons.map(function (l) {
        return el("li", null, l.kind + " " + fmt.num(l.strike, 0) + ": " + l.strike_reason);
      })));
    }
  }

  // ---------------------------------------------------------------- cost curve
  var COST_FLOORS = [0.80, 0.85, 0.90, 0.95];
  var costPoints = null;
  function renderCostCurve(body, selectedFloor, selectedPct) {
    if (!costPoints) return;
    var pts = costPoints.filter(function (p) { return FG.isNum(p.premium_pct); });
    var chart = el("div", { class: "chart short", id: "cost-chart" });
    body.appendChild(chart);
    var traces = [{
      x: pts.map(function (p) { return p.floor_pct * 100; }), y: pts.map(function (p) { return p.premium_pct * 100; }),
      mode: "lines+markers", name: "premium at floor", line: { color: FG.palette.port }, marker: { size: 8 },
      hovertemplate: "floor %{x:.0f}%: premium %{y:.2f}%<extra></extra>"
    }];
    if (FG.isNum(selectedPct)) {
      traces.push({ x: [selectedFloor * 100], y: [selectedPct * 100], mode: "markers", name: "selected",
        marker: { size: 14, color: FG.palette.hedged, symbol: "diamond" }, hovertemplate: "selected: %{y:.2f}%<extra></extra>" });
    }
    FG.plot(chart, traces, {
      xaxis: { title: { text: "floor (% of portfolio value)" }, ticksuffix: "%" },
      yaxis: { title: { text: "premium (% of value)" }, ticksuffix: "%", rangemode: "tozero" }
    });
    var failed = costPoints.filter(function (p) { return !FG.isNum(p.premium_pct); });
    if (failed.length) body.appendChild(el("p", { class: "small muted" }, "No quote at " +
      failed.map(function (p) { return fmt.pct(p.floor_pct, 0) + " (" + p.error + ")"; }).join(", ")));
  }
  function loadCostCurve(p, selectedPct) {
    var key = p.strategy + "|" + p.term_days + "|" + (p.upside_cap_pct || "") + "|" + FG.portfolioId();
    return FG.panel("costcurve", function (body) {
      var fetchPts = key === state.costKey && costPoints ? Promise.resolve(costPoints)
        : COST_FLOORS.reduce(function (acc, f) {   // sequential: gentle on the quote rate limit
          return acc.then(function (list) {
            return requestQuote(Object.assign({}, p, { floor_pct: f })).then(function (q) {
              var an = q.draft.analytics || {};
              list.push({ floor_pct: f, premium_pct: FG.isNum(an.premium_pct) ? an.premium_pct : q.draft.premium_net / q.draft.portfolio_value });
              return list;
            }, function (err) {
              if (err.status === 401 || err.status === 429) throw err;
              list.push({ floor_pct: f, premium_pct: null, error: err.detail || err.title });
              return list;
            });
          });
        }, Promise.resolve([]));
      return fetchPts.then(function (list) {
        costPoints = list; state.costKey = key;
        renderCostCurve(body, p.floor_pct, selectedPct);
      });
    });
  }

  // ---------------------------------------------------------------- quote flow
  function runQuote() {
    var p = params();
    var seq = ++state.seq;
    var shared = requestQuote(p);
    function guard(fn) {
      return function (body) {
        return shared.then(function (q) {
          if (seq !== state.seq) return;        // a newer quote superseded this one
          state.draft = q.draft; state.draftId = q.id; state.expiresAt = q.expiresAt;
          return fn(body, q.draft, q.id);
        });
      };
    }
    FG.panel("quote", guard(renderQuote));
    FG.panel("legs", guard(renderLegs));
    FG.panel("payoff", guard(renderPayoff));
    return shared.then(function (q) {
      if (seq !== state.seq) return;
      var an = q.draft.analytics || {};
      return loadCostCurve(p, FG.isNum(an.premium_pct) ? an.premium_pct : q.draft.premium_net / q.draft.portfolio_value);
    }, function () { /* errors are shown in the panels */ });
  }

  function openBind() {
    if (state.draft && state.draftId) FG.openBind(state.draft, state.draftId, state.expiresAt);
  }

  // ---------------------------------------------------------------- wiring
  FG.onReady(function () {
    var floor = FG.$("#floor"), cap = FG.$("#cap"), strat = FG.$("#strategy"), term = FG.$("#term");
    var timer = null;
    function sync() {
      FG.$("#floor-out").textContent = Math.round(parseFloat(floor.value) * 100) + "%";
      FG.$("#cap-out").textContent = "+" + Math.round(parseFloat(cap.value) * 100) + "%";
      FG.$("#collar-row").hidden = strat.value !== "collar";
    }
    function changed() {
      sync();
      if (!FG.$("#auto-requote").checked) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(runQuote, 350);
    }
    [floor, cap].forEach(function (n) { n.addEventListener("input", sync); n.addEventListener("change", changed); });
    [strat, term].forEach(function (n) { n.addEventListener("change", changed); });
    FG.$("#quote-form").addEventListener("submit", function (ev) { ev.preventDefault(); window.clearTimeout(timer); runQuote(); });
    sync();
    runQuote();
    FG.onPortfolioChange(function () { state.costKey = null; runQuote(); });
  });
})();
