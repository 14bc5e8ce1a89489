// Admin page: every policy, insured exposure by index against its limit, settlement runs.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt;

  var overview = null;
  var lastRun = null;
  var userNames = {};  // user id -> name, from the admin overview  // message of the last settlement run started from this page
  function getOverview() {
    if (!overview) {
      overview = FG.api("/ui/api/admin/overview");
      overview.catch(function () { overview = null; });
    }
    return overview;
  }

  function meterRow(label, used, limit, id) {
    var frac = FG.isNum(limit) && limit > 0 ? used / limit : 0;
    return el("div", { class: "meter-row", dataset: id ? { key: id } : {} },
      el("div", { class: "small" }, el("strong", null, label), " · " + fmt.money(used) + " of " + fmt.money(limit) + " (" + fmt.pct(frac, 1) + ")"),
      el("div", { class: "meter" + (frac > 1 ? " over" : ""), title: fmt.pct(frac, 1) + " of the limit" },
        el("span", { style: "width:" + Math.max(0.5, Math.min(100, frac * 100)).toFixed(1) + "%" })));
  }

  function renderExposure(body, data) {
    body.appendChild(el("p", { class: "small muted" }, "Beta-adjusted notional of live policies (" + data.live_statuses.join(", ") +
      "), the figure the quote-time limit check adds to."));
    var list = el("div", { class: "bar-list", id: "exposure-list" });
    body.appendChild(list);
    if (!data.by_index.length) list.appendChild(el("div", { class: "empty" }, "No live policy: nothing insured."));
    data.by_index.forEach(function (r) { list.appendChild(meterRow(r.index_symbol + " (" + r.policies + " policies)", r.insured_notional, r.limit, r.index_symbol)); });
    if (data.by_user.length) {
      body.appendChild(el("h3", null, "By user (limit " + fmt.money(data.limit_per_user) + " each)"));
      var users = el("div", { class: "bar-list", id: "exposure-users" });
      data.by_user.forEach(function (r) { users.appendChild(meterRow((r.user_name || "#" + r.user_id) + " (" + r.policies + ")", r.insured_notional, r.limit)); });
      body.appendChild(users);
    }
  }

  function renderSettlements(body, data) {
    var rows = data.settlement_runs || [];
    body.appendChild(el("div", { class: "form-row" },
      el("button", { type: "button", class: "btn", id: "run-settlement", onclick: runSettlement }, "Run settlement now…"),
      el("span", { class: "small muted" }, "settles every policy whose term has ended; a rerun never pays twice")));
    body.appendChild(el("div", { id: "settle-result" }, lastRun ? el("div", { class: "notice" }, lastRun) : null));
    if (!rows.length) { body.appendChild(el("div", { class: "empty" }, "No settlement run yet.")); return; }
    body.appendChild(FG.table([
      { label: "Run at", fmt: function (r) { return fmt.datetime(r.settled_at); } },
      { label: "Settled", num: true, fmt: function (r) { return fmt.int(r.settled); } },
      { label: "Deferred", num: true, fmt: function (r) { return r.deferred ? FG.tag(String(r.deferred), "warn", "no usable settlement price; the policy stays live") : "0"; } },
      { label: "Kinds", fmt: function (r) { return Object.keys(r.kinds).map(function (k) { return k + " " + r.kinds[k]; }).join(", ") || "–"; } },
      { label: "Settled policies", fmt: function (r) { return r.policy_ids.map(function (i) { return "#" + i; }).join(" ") || "–"; } },
      { label: "Hedge payoff", num: true, fmt: function (r) { return fmt.money(r.total_hedge_payoff); } },
      { label: "Paid out", num: true, fmt: function (r) { return fmt.money(r.total_compensation); } }
    ], rows, { id: "settlements-table" }));
    var reasons = [];
    rows.forEach(function (r) { (r.deferred_policies || []).forEach(function (d) { reasons.push({ at: r.settled_at, d: d }); }); });
    if (reasons.length) {
      body.appendChild(el("h3", null, "Deferred"));
      body.appendChild(el("ul", { class: "small", id: "deferred-list" }, reasons.slice(0, 20).map(function (x) {
        return el("li", null, "#" + x.d.policy_id + " at " + fmt.datetime(x.at) + ": " + (x.d.reason || "no reason recorded"));
      })));
    }
  }

  function runSettlement() {
    if (!window.confirm("Settle every policy whose term has ended, at the official settlement level?")) return;
    var out = FG.clear(FG.$("#settle-result"));
    out.appendChild(el("div", { class: "loading" }, el("span", { class: "spinner" }), "Settling…"));
    FG.api("/api/insurance/settle", { method: "POST", body: {} }).then(function (res) {
      lastRun = "Settled " + (res.settled || []).length + ", skipped " + (res.skipped || []).length +
        ", deferred " + (res.deferred || []).length + " (as of " + fmt.datetime(res.as_of) + ").";
      overview = null;
      ["exposure", "settlements", "allpolicies"].forEach(FG.rerun);
    }, function (err) { FG.clear(out).appendChild(FG.errorBox(err, runSettlement)); });
  }

  function renderPolicies(body, data) {
    var rows = Array.isArray(data) ? data : (data.policies || []);
    if (!rows.length) { body.appendChild(el("div", { class: "empty" }, "No policies.")); return; }
    body.appendChild(FG.table([
      { label: "Policy", fmt: function (p) { return el("a", { href: "/policies/" + encodeURIComponent(p.id) }, "#" + p.id); } },
      { label: "User", fmt: function (p) { return userNames[String(p.user_id)] || "#" + p.user_id; } },
      { label: "Status", fmt: function (p) { return FG.tag(p.status, p.status === "active" ? "good" : null); } },
      { label: "Strategy", fmt: function (p) { return String(p.strategy || "").replace(/_/g, " "); } },
      { label: "Index", fmt: function (p) { return p.index_symbol; } },
      { label: "Floor", num: true, fmt: function (p) { return fmt.pct(p.floor_pct, 0); } },
      { label: "Insured", num: true, fmt: function (p) { return fmt.money(p.coverage_notional); } },
      { label: "Premium", num: true, fmt: function (p) { return fmt.money(p.premium_net); } },
      { label: "MTM P/L", num: true, fmt: function (p) { return p.mtm ? fmt.money(p.mtm.pnl) : "–"; } },
      { label: "Breach", fmt: function (p) { return p.breach_flag ? FG.tag("breached", "bad") : "–"; } },
      { label: "Expiry", fmt: function (p) { return fmt.date(p.end_utc); } }
    ], rows, { id: "all-policies-table" }));
  }

  FG.onReady(function () {
    FG.panel("exposure", function (b) { return getOverview().then(function (d) { renderExposure(b, d); }); });
    FG.panel("settlements", function (b) { return getOverview().then(function (d) { renderSettlements(b, d); }); });
    FG.panel("allpolicies", function (b) {
      return Promise.all([FG.api("/api/insurance/policies?all=true"), getOverview().catch(function () { return {}; })])
        .then(function (res) { userNames = res[1].users || {}; renderPolicies(b, res[0]); });
    });
  });
})();
