// Admin page: every policy, insured exposure by index against its limit, settlement runs.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt;

  function listOf(data, keys) {
    if (Array.isArray(data)) return data;
    for (var i = 0; i < keys.length; i++) if (Array.isArray(data[keys[i]])) return data[keys[i]];
    return [];
  }

  function renderExposure(body, data) {
    var rows = listOf(data, ["by_index", "exposure", "indices", "items"]);
    var limit = data.limit_per_index || data.max_insured_notional_per_index;
    if (!rows.length) { body.appendChild(el("div", { class: "empty" }, "No insured exposure.")); return; }
    body.appendChild(el("div", { class: "bar-list", id: "exposure-list" }, rows.map(function (r) {
      var used = r.insured_notional !== undefined ? r.insured_notional : r.notional;
      var lim = r.limit !== undefined ? r.limit : limit;
      var frac = FG.isNum(lim) && lim > 0 ? used / lim : 0;
      return el("div", null,
        el("div", { class: "small" }, el("strong", null, r.index_symbol || r.index), " · " + fmt.money(used) + " of " + fmt.money(lim) + " (" + fmt.pct(frac, 0) + ")"),
        el("div", { class: "meter" + (frac > 1 ? " over" : "") }, el("span", { style: "width:" + Math.min(100, frac * 100).toFixed(1) + "%" })));
    })));
    var users = listOf(data, ["by_user"]);
    if (users.length) {
      body.appendChild(el("h3", null, "By user"));
      body.appendChild(FG.table([
        { label: "User", fmt: function (r) { return r.user_name || r.name || String(r.user_id); } },
        { label: "Insured", num: true, fmt: function (r) { return fmt.money(r.insured_notional !== undefined ? r.insured_notional : r.notional); } },
        { label: "Limit", num: true, fmt: function (r) { return fmt.money(r.limit !== undefined ? r.limit : data.limit_per_user); } }
      ], users));
    }
  }

  function renderSettlements(body, data) {
    var rows = listOf(data, ["runs", "settlements", "items"]);
    if (!rows.length) { body.appendChild(el("div", { class: "empty" }, "No settlement run yet.")); return; }
    body.appendChild(FG.table([
      { label: "Run", fmt: function (r) { return String(r.id || r.run_id); } },
      { label: "Started", fmt: function (r) { return fmt.datetime(r.started_at || r.ts || r.created_at); } },
      { label: "Status", fmt: function (r) { return FG.tag(r.status || "done", r.status === "failed" ? "bad" : "good"); } },
      { label: "Settled", num: true, fmt: function (r) { return fmt.int(r.settled !== undefined ? r.settled : r.policies_settled); } },
      { label: "Paid out", num: true, fmt: function (r) { return fmt.money(r.total_compensation !== undefined ? r.total_compensation : r.paid_out); } }
    ], rows, { id: "settlements-table" }));
  }

  function renderPolicies(body, data) {
    var rows = listOf(data, ["policies", "items"]);
    if (!rows.length) { body.appendChild(el("div", { class: "empty" }, "No policies.")); return; }
    body.appendChild(FG.table([
      { label: "Policy", fmt: function (p) { return "#" + p.id; } },
      { label: "User", fmt: function (p) { return p.user_name || String(p.user_id); } },
      { label: "Status", fmt: function (p) { return FG.tag(p.status, p.status === "active" ? "good" : null); } },
      { label: "Strategy", fmt: function (p) { return String(p.strategy || "").replace(/_/g, " "); } },
      { label: "Index", fmt: function (p) { return p.index_symbol; } },
      { label: "Insured", num: true, fmt: function (p) { return fmt.money(p.coverage_notional); } },
      { label: "Premium", num: true, fmt: function (p) { return fmt.money(p.premium_net); } },
      { label: "Expiry", fmt: function (p) { return fmt.date(p.end_utc || p.expiry); } }
    ], rows, { id: "all-policies-table" }));
  }

  FG.onReady(function () {
    FG.panel("exposure", function (b) { return FG.api("/api/admin/exposure").then(function (d) { renderExposure(b, d); }); });
    FG.panel("settlements", function (b) { return FG.api("/api/admin/settlements").then(function (d) { renderSettlements(b, d); }); });
    FG.panel("allpolicies", function (b) { return FG.api("/api/admin/policies").then(function (d) { renderPolicies(b, d); }); });
  });
})();
