// Portfolio page: CSV upload with row-level errors, positions, weights, provenance.
(function () {
  "use strict";
  var FG = window.FG, el = FG.el, fmt = FG.fmt;

  var pick = FG.pick;

  function loadPortfolio() {
    return FG.requirePortfolio().then(function (id) {
      return FG.api("/ui/api/portfolios/" + encodeURIComponent(id) + "/valuation");
    });
  }

  function positionsOf(p) { return pick(p, ["positions"], []); }

  function renderSummary(body, p) {
    var pos = positionsOf(p);
    var total = pick(p, ["net_value", "valuation.net_value", "total_value", "market_value", "value"]);
    if (total === null) total = pos.reduce(function (s, r) { return s + (pick(r, ["market_value", "value"], 0) || 0); }, 0);
    var stale = pos.filter(function (r) { return (r.flags || []).filter(function (f) { return f !== "old_price"; }).length; }).length;
    body.appendChild(el("div", { class: "kpis" },
      FG.kpi("Name", p.name || ("#" + p.id)),
      FG.kpi("Market value", fmt.money(total), pick(p, ["as_of", "valued_at"]) ? "as of " + fmt.date(pick(p, ["as_of", "valued_at"])) : null, { id: "kpi-total" }),
      FG.kpi("Positions", String(pos.length)),
      FG.kpi("Flagged histories", String(stale), stale ? "see the data-quality panel" : "no stale prices or gaps")));
  }

  function renderPositions(body, p) {
    var pos = positionsOf(p);
    if (!pos.length) { body.appendChild(el("div", { class: "empty" }, "This portfolio has no positions.")); return; }
    body.appendChild(FG.table([
      { label: "Symbol", fmt: function (r) { return el("strong", null, r.symbol); } },
      { label: "Quantity", num: true, fmt: function (r) { return fmt.num(r.quantity, Number.isInteger(r.quantity) ? 0 : 2); } },
      { label: "Price", num: true, fmt: function (r) { return fmt.money(pick(r, ["price", "last_price"]), 2); } },
      { label: "Value", num: true, fmt: function (r) { return fmt.money(pick(r, ["market_value", "value"])); } },
      { label: "Weight", num: true, fmt: function (r) { return fmt.pct(r.weight); } },
      { label: "Sector", fmt: function (r) { return pick(r, ["sector"], "unclassified"); } },
      { label: "Beta", num: true, fmt: function (r) { return FG.isNum(r.beta) ? fmt.num(r.beta) : "–"; } }
    ], pos, { id: "positions-table" }));
  }

  function renderWeights(body, p) {
    var pos = positionsOf(p).slice().sort(function (a, b) { return (b.weight || 0) - (a.weight || 0); });
    if (!pos.length) { body.appendChild(el("div", { class: "empty" }, "No positions.")); return; }
    var chart = el("div", { class: "chart", id: "weights-chart" });
    body.appendChild(chart);
    FG.plot(chart, [{
      type: "bar", orientation: "h", y: pos.map(function (r) { return r.symbol; }).reverse(),
      x: pos.map(function (r) { return (r.weight || 0) * 100; }).reverse(),
      marker: { color: FG.palette.hedged }, hovertemplate: "%{y}: %{x:.1f}%<extra></extra>"
    }], { xaxis: { title: { text: "weight (%)" }, ticksuffix: "%" }, margin: { l: 60, r: 10, t: 6, b: 40 } });
  }

  function renderQuality(body, p) {
    var pos = positionsOf(p);
    var quality = pick(p, ["quality"], {}) || {};
    var issues = quality.issues || {};
    body.appendChild(el("p", { class: "muted small" }, "Flags come from the last " + (quality.window_days || 365) +
      " days of each symbol's history before its price date: stale = at least " + (quality.stale_days || 5) +
      " unchanged closes in a row, gap = missing trading days, old price = last close more than " + (quality.stale_days || 5) + " days before today."));
    var sources = pick(p, ["sources"], {}) || {};
    Object.keys(sources).forEach(function (k) { body.appendChild(el("div", { class: "small" }, FG.tag(k, "info"), " ", sources[k])); });
    body.appendChild(FG.table([
      { label: "Symbol", key: "symbol" },
      { label: "Price source", fmt: function (r) {
        var src = pick(r, ["price_source", "source", "provider"], "–");
        return String(src).indexOf("provided") >= 0 || String(src).indexOf("csv") >= 0 ? FG.tag(String(src), "info") : FG.tag(String(src));
      } },
      { label: "Price date", fmt: function (r) { return fmt.date(pick(r, ["price_as_of", "price_date", "as_of"])); } },
      { label: "Age (days)", num: true, fmt: function (r) { return FG.isNum(r.age_days) ? fmt.int(r.age_days) : "–"; } },
      { label: "Flags", fmt: function (r) {
        var flags = pick(r, ["flags", "quality_flags"], []) || [];
        if (!flags.length) return FG.tag("ok", "good");
        var detail = (issues[r.symbol] || []).map(function (i) {
          return i.kind + (i.start ? " " + i.start + (i.end && i.end !== i.start ? "→" + i.end : "") : "") + (i.count ? " (" + i.count + ")" : "") + (i.detail ? ": " + i.detail : "");
        }).join("; ");
        return el("span", { class: "flags" }, flags.map(function (f) {
          return FG.tag(f.replace(/_/g, " "), f === "old_price" ? "info" : "warn", detail || null);
        }));
      } }
    ], pos, { id: "quality-table" }));
  }

  var shared = null;  // one request feeds the four panels of a load
  function get() {
    if (!shared) {
      shared = loadPortfolio();
      shared.catch(function () { shared = null; });  // a Retry refetches
    }
    return shared;
  }
  function loadAll() {
    shared = null;
    FG.panel("summary", function (b) { return get().then(function (p) { renderSummary(b, p); }); });
    FG.panel("positions", function (b) { return get().then(function (p) { renderPositions(b, p); }); });
    FG.panel("weights", function (b) { return get().then(function (p) { renderWeights(b, p); }); });
    FG.panel("quality", function (b) { return get().then(function (p) { renderQuality(b, p); }); });
  }

  function setupUpload() {
    var form = FG.$("#upload-form");
    var out = FG.$("#upload-result");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var file = FG.$("#upload-file").files[0];
      if (!file) return;
      var data = new FormData();
      data.append("file", file);
      data.append("name", FG.$("#upload-name").value.trim() || file.name.replace(/\.csv$/i, ""));
      var btn = FG.$("#upload-submit");
      btn.disabled = true;
      FG.clear(out).appendChild(el("div", { class: "loading" }, el("span", { class: "spinner" }), "Uploading…"));
      FG.api("/api/portfolios/upload", { method: "POST", form: data }).then(function (p) {
        var portfolio = p.portfolio || p;
        FG.clear(out).appendChild(el("div", { class: "notice", id: "upload-ok" },
          "Stored “" + (portfolio.name || "portfolio") + "” with " + positionsOf(portfolio).length + " positions."));
        return FG.loadPicker(portfolio.id).then(loadAll);
      }, function (err) {
        FG.clear(out).appendChild(FG.errorBox(err, null));
        out.firstChild.id = "upload-errors";
      }).then(function () { btn.disabled = false; }, function () { btn.disabled = false; });
    });
  }

  // The form works as soon as it is on screen (this script runs after it is parsed),
  // so a quick click never falls through to a native form submission.
  setupUpload();
  FG.onReady(function () {
    loadAll();
    FG.onPortfolioChange(loadAll);
  });
})();
