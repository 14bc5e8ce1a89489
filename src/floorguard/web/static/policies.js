// Policies page: the user's policies (coverage, days left, MTM P/L), one policy's
// Portfolio vs Floor vs Hedged chart from its NAV snapshots, events and alerts.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt;

  var pick = FG.pick;
  var STATUS_KIND = { active: "good", settled: "info", expired: "", partially_bound: "warn", cancelled: "", breached: "bad" };

  function listOf(data) { return Array.isArray(data) ? data : (data.policies || data.items || []); }

  var selected = document.body.dataset.policyId || null;

  // Contractual share of a shortfall the policy covers (the draft's coverage_ratio).
  function coverage(p) { return pick(p, ["terms.coverage_ratio", "coverage_ratio"], 1); }
  function insuredShare(p) {
    var v = p.portfolio_value_at_bind;
    return FG.isNum(p.coverage_notional) && FG.isNum(v) && v ? p.coverage_notional / v : null;
  }
  function isAlert(type) { return /floor_breach|near_breach|roll_suggested|order_unknown|unwind/.test(type || ""); }
  function daysLeft(p) { return pick(p, ["days_remaining", "days_to_expiry", "remaining_days"]); }
  function mtmPnl(p) { return pick(p, ["mtm_pnl", "mtm.pnl", "pnl", "current.mtm_pnl"]); }

  function renderList(body, data) {
    var list = listOf(data);
    if (!list.length) {
      body.appendChild(el("div", { class: "empty" }, "No policies yet. Quote and bind one on the ", el("a", { href: "/insurance" }, "Insurance"), " page."));
      return null;
    }
    body.appendChild(FG.table([
      { label: "Policy", fmt: function (p) { return el("a", { href: "/policies/" + encodeURIComponent(p.id) }, "#" + p.id); } },
      { label: "Status", fmt: function (p) { return FG.tag(p.status, STATUS_KIND[p.status]); } },
      { label: "Strategy", fmt: function (p) { return String(p.strategy || "").replace("_", " "); } },
      { label: "Index", fmt: function (p) { return pick(p, ["index_symbol", "underlying_symbol"]); } },
      { label: "Floor", num: true, fmt: function (p) { return fmt.pct(p.floor_pct, 0); } },
      { label: "Coverage", num: true, title: "share of a shortfall below the floor the policy pays", fmt: function (p) { return fmt.pct(coverage(p), 0); } },
      { label: "Insured", num: true, title: "beta-adjusted notional hedged", fmt: function (p) { return fmt.money(p.coverage_notional); } },
      { label: "Days left", num: true, fmt: function (p) { var d = daysLeft(p); return FG.isNum(d) ? fmt.num(d, 0) : "–"; } },
      { label: "Premium", num: true, fmt: function (p) { return fmt.money(p.premium_net); } },
      { label: "MTM P/L", num: true, fmt: function (p) {
        var v = mtmPnl(p); if (!FG.isNum(v)) return "–";
        return el("span", { style: "color:var(--" + (v >= 0 ? "good" : "bad") + ")" }, fmt.money(v));
      } },
      { label: "Expiry", fmt: function (p) { return fmt.date(pick(p, ["end_utc", "expiry"])); } }
    ], list, {
      id: "policies-table",
      rowClass: function (p) { return String(p.id) === String(selected) ? "selected" : null; },
      onRowClick: function (p, tr) {
        selected = String(p.id);
        window.history.replaceState(null, "", "/policies/" + encodeURIComponent(p.id));
        document.querySelectorAll("#policies-table tr.selected").forEach(function (n) { n.classList.remove("selected"); });
        tr.classList.add("selected");
        loadDetail();
      }
    }));
    return list;
  }

  function navSeries(p) {
    var nav = pick(p, ["nav", "nav_history", "navs", "snapshots"], []) || [];
    return nav;
  }

  function renderDetail(body, p) {
    var badges = document.querySelector('[data-badges="policy"]');
    FG.clear(badges).appendChild(FG.tag(p.status, STATUS_KIND[p.status]));
    var src = pick(p, ["pricing_source", "draft.pricing_source"], {}) || {};
    if (src.synthetic) { badges.appendChild(document.createTextNode(" ")); badges.appendChild(FG.tag("synthetic marks", "synth", "marked off a model surface")); }
    var floorValue = pick(p, ["floor_value"], (p.floor_pct || 0) * pick(p, ["portfolio_value_at_bind", "portfolio_value"], 0));
    body.appendChild(el("div", { class: "kpis", id: "policy-kpis" },
      FG.kpi("Policy", "#" + p.id, String(p.strategy || "").replace("_", " ")),
      FG.kpi("Coverage", fmt.pct(coverage(p), 0), "insured " + fmt.money(p.coverage_notional) + " (" + fmt.pct(insuredShare(p), 0) + " of value, beta-adjusted)"),
      FG.kpi("Days left", FG.isNum(daysLeft(p)) ? fmt.num(daysLeft(p), 0) : "–", "to " + fmt.date(pick(p, ["end_utc", "expiry"]))),
      FG.kpi("MTM P/L", fmt.money(mtmPnl(p)), "hedge value − premium", { id: "kpi-mtm" }),
      FG.kpi("Floor", fmt.money(floorValue), fmt.pct(p.floor_pct, 0)),
      FG.kpi("Shortfall", p.mtm ? fmt.money(pick(p, ["shortfall"], 0)) : "–", p.mtm ? "below the floor, as of " + fmt.datetime(p.mtm.ts) : "not monitored yet")));
    if (p.mtm && p.mtm.note) body.appendChild(el("p", { class: "small muted" }, "MTM: " + p.mtm.note + ". ", FG.estimateTag()));
    if (p.settlement) {
      var st = p.settlement;
      body.appendChild(el("div", { class: "notice", id: "settlement" }, "Settled " + fmt.date(st.settlement_date) + " (" + st.kind + "): final index " +
        fmt.num(st.final_index_level, 2) + ", shortfall " + fmt.money(st.shortfall) + ", hedge payoff " + fmt.money(st.hedge_payoff) +
        ", compensation " + fmt.money(st.compensation) + "."));
    }
    var nav = navSeries(p);
    var chart = el("div", { class: "chart", id: "policy-chart" });
    body.appendChild(chart);
    if (!nav.length) {
      chart.className = "empty";
      chart.textContent = "No NAV snapshots yet: the monitoring job writes one per run.";
    } else {
      var ts = nav.map(function (n) { return pick(n, ["ts", "timestamp", "date"]); });
      var pv = nav.map(function (n) { return pick(n, ["portfolio_value"]); });
      var hv = nav.map(function (n) { return pick(n, ["portfolio_value"], 0) + pick(n, ["hedge_value"], 0); });
      var fl = nav.map(function () { return floorValue; });
      var mode = nav.length <= 30 ? "lines+markers" : "lines";
      FG.plot(chart, [
        { x: ts, y: pv, name: "Portfolio", mode: mode, line: { color: FG.palette.port, width: 2 } },
        { x: ts, y: hv, name: "Hedged (portfolio + hedge value)", mode: mode, line: { color: FG.palette.hedged, width: 3 } },
        { x: ts, y: fl, name: "Floor", mode: "lines", line: { color: FG.palette.floor, dash: "dash", width: 2 } }
      ], { yaxis: { tickprefix: "$", title: { text: "value ($)" } }, hovermode: "x unified" });
    }
    var orders = p.orders || [];
    if (orders.length) {
      body.appendChild(el("h3", null, "Orders at the broker"));
      body.appendChild(FG.table([
        { label: "Purpose", key: "purpose" },
        { label: "Leg", num: true, fmt: function (o) { return String(o.leg); } },
        { label: "Side", key: "side" },
        { label: "Qty", num: true, fmt: function (o) { return fmt.int(o.quantity); } },
        { label: "Filled", num: true, fmt: function (o) { return fmt.int(o.filled_quantity); } },
        { label: "Avg fill", num: true, fmt: function (o) { return fmt.num(o.avg_fill_price); } },
        { label: "State", fmt: function (o) { return FG.tag(o.state, o.state === "filled" ? "good" : (o.state === "rejected" ? "bad" : null)); } },
        { label: "Broker id", fmt: function (o) { return o.broker_order_id || "–"; } }
      ], orders, { id: "policy-orders" }));
    }
  }

  function renderEvents(body, p) {
    var events = pick(p, ["events"], []) || [];
    var alerts = events.filter(function (e) { return isAlert(e.type || e.event_type); });
    body.appendChild(el("div", { class: "small", id: "alerts" }, alerts.length
      ? el("span", null, FG.tag(alerts.length + " alert" + (alerts.length > 1 ? "s" : ""), "bad"))
      : FG.tag("no alerts", "good")));
    if (!events.length) { body.appendChild(el("div", { class: "empty" }, "No events.")); return; }
    var sorted = events.slice().sort(function (a, b) { return String(pick(b, ["ts", "timestamp"], "")).localeCompare(String(pick(a, ["ts", "timestamp"], ""))); });
    body.appendChild(el("ul", { class: "timeline", id: "events" }, sorted.map(function (e) {
      var type = e.event_type || e.type || "event";
      var details = e.details || e.details_json || {};
      var summary = typeof details === "string" ? details : (details.message || details.suggestion || details.reason || Object.keys(details)
        .filter(function (k) { var v = details[k]; return v !== null && typeof v !== "object"; }).slice(0, 5).map(function (k) {
          var v = details[k];
          return k.replace(/_/g, " ") + " " + (FG.isNum(v) ? (Number.isInteger(v) ? String(v) : fmt.num(v, 2)) : String(v));
        }).join(" · "));
      return el("li", { class: isAlert(type) ? "alert" : null },
        el("div", { class: "when" }, fmt.datetime(pick(e, ["ts", "timestamp", "created_at"]))),
        el("strong", null, type.replace(/_/g, " ")), summary ? el("div", { class: "small muted" }, summary) : null);
    })));
  }

  var detailPromise = null;
  function loadDetail() {
    detailPromise = null;
    function get() {
      if (!detailPromise) {
        detailPromise = selected ? FG.api("/api/insurance/policies/" + encodeURIComponent(selected))
          : Promise.reject(Object.assign(new FG.ApiError(0, "No policy selected.", "Pick one in the table above."), { empty: true }));
        detailPromise.catch(function () { detailPromise = null; });
      }
      return detailPromise;
    }
    FG.panel("policy", function (b) { return get().then(function (p) { renderDetail(b, p.policy || p); }); });
    FG.panel("events", function (b) { return get().then(function (p) { renderEvents(b, p.policy || p); }); });
  }

  FG.onReady(function () {
    FG.panel("policies", function (body) {
      return FG.api("/api/insurance/policies").then(function (data) {
        var list = renderList(body, data);
        if (!selected && list && list.length) {
          var active = list.filter(function (p) { return p.status === "active"; });
          selected = String((active[0] || list[0]).id);
          var row = FG.$("#policies-table tbody tr");
          if (row && !active.length) row.classList.add("selected");
          document.querySelectorAll("#policies-table tbody tr").forEach(function (tr, i) {
            if (String(list[i].id) === selected) tr.classList.add("selected");
          });
        }
      });
    }).then(loadDetail);
  });
})();
