// "Hedge now": the confirmation dialog that shows a draft's final prices, then
// binds it (POST /api/insurance/bind with a fresh Idempotency-Key per dialog, so
// a double click or a retry never places orders twice). Shared by the
// Insurance and Opportunities pages; the dialog markup is the bind_dialog macro.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt;
  var STRATEGY_NAMES = { protective_put: "Protective put", collar: "Collar", put_spread: "Put spread", tail_hedge: "Tail hedge" };

  function legsTable(d, id) {
    return FG.table([
      { label: "Side", fmt: function (l) { return FG.tag(l.side, l.side === "long" ? "info" : "warn"); } },
      { label: "Kind", key: "kind" },
      { label: "Strike", num: true, fmt: function (l) { return fmt.num(l.strike, l.strike % 1 ? 2 : 0); } },
      { label: "Expiry", fmt: function (l) { return fmt.date(l.expiry); } },
      { label: "Contracts", num: true, fmt: function (l) { return fmt.int(l.contracts); } },
      { label: "Bid", num: true, fmt: function (l) { return fmt.num(l.bid); } },
      { label: "Ask", num: true, fmt: function (l) { return fmt.num(l.ask); } },
      { label: "Price", num: true, title: "execution estimate: ask to buy, bid to sell", fmt: function (l) { return fmt.num(l.price); } },
      { label: "Premium", num: true, fmt: function (l) { return fmt.money((l.side === "short" ? -1 : 1) * l.premium); } },
      { label: "IV", num: true, fmt: function (l) { return fmt.pct(l.iv, 1); } }
    ], d.legs || [], { id: id });
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "k-" + Date.now() + "-" + Math.random().toString(16).slice(2);
  }

  var current = null;  // {draftId, key}
  function openBind(d, draftId, expiresAt) {
    current = { draftId: draftId, key: newKey() };
    var body = FG.clear(FG.$("#bind-body"));
    var src = d.pricing_source || {};
    body.appendChild(el("p", null, STRATEGY_NAMES[d.strategy] || d.strategy, " on ", el("strong", null, d.underlying_symbol || d.index_symbol),
      ", floor ", el("strong", null, fmt.pct(d.floor_pct, 0)), " (" + fmt.money(d.floor_value) + ") until ", el("strong", null, fmt.date(d.end_utc)), "."));
    body.appendChild(legsTable(d, "confirm-legs"));
    body.appendChild(el("div", { class: "kpis", style: "margin-top:10px" },
      FG.kpi("Net premium", fmt.money(d.premium_net), fmt.pct((d.analytics || {}).premium_pct, 2) + " of value", { id: "confirm-premium" }),
      FG.kpi("Pricing", src.synthetic ? "synthetic" : "real chain", src.as_of ? "as of " + fmt.datetime(src.as_of) : null)));
    body.appendChild(el("p", { class: "small muted" },
      "These are the final prices: the orders are placed at them, and the bind is refused if the market has moved beyond the slippage tolerance. ",
      expiresAt ? "The draft expires at " + fmt.datetime(expiresAt) + "." : ""));
    body.appendChild(el("div", { id: "bind-status" }));
    FG.$("#bind-confirm").disabled = false;
    FG.$("#bind-cancel").textContent = "Cancel";
    FG.$("#bind-dialog").showModal();
  }

  function confirmBind() {
    if (!current) return;
    var status = FG.clear(FG.$("#bind-status"));
    var btn = FG.$("#bind-confirm");
    btn.disabled = true;
    status.appendChild(el("div", { class: "loading" }, el("span", { class: "spinner" }), "Placing orders…"));
    FG.api("/api/insurance/bind", { method: "POST", body: { draft_id: current.draftId, confirm: true }, headers: { "Idempotency-Key": current.key } })
      .then(function (resp) {
        var policy = resp.policy || resp;
        var pid = policy.id || policy.policy_id;
        FG.clear(status).appendChild(el("div", { class: "notice", id: "bind-ok" },
          "Bound: policy ", el("a", { href: "/policies/" + encodeURIComponent(pid), id: "bound-policy-link" }, "#" + pid),
          " is " + (policy.status || "active") + "."));
        FG.$("#bind-cancel").textContent = "Close";
      }, function (err) {
        FG.clear(status).appendChild(FG.errorBox(err, confirmBind));
        btn.disabled = false;
      });
  }

  FG.legsTable = legsTable;
  FG.openBind = openBind;
  FG.onReady(function () {
    if (!FG.$("#bind-dialog")) return;
    FG.$("#bind-cancel").addEventListener("click", function () { FG.$("#bind-dialog").close(); });
    FG.$("#bind-confirm").addEventListener("click", confirmBind);
  });
})();
