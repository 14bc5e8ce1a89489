// floorguard dashboard: shared helpers (auth, API calls, panels, charts, formatting).
// Every API value is put on the page with textContent (never innerHTML).
(function () {
  "use strict";

  var TOKEN_KEY = "fg_token";
  var PORTFOLIO_KEY = "fg_portfolio";
  var THEME_KEY = "fg_theme";

  // ---------------------------------------------------------------- storage
  function token() {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  function setToken(t) { window.sessionStorage.setItem(TOKEN_KEY, t); }
  function clearToken() { try { window.sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ } }

  function goLogin() {
    var next = window.location.pathname + window.location.search;
    window.location.assign("/login?next=" + encodeURIComponent(next));
  }

  // ---------------------------------------------------------------- API
  function ApiError(status, title, detail, errors, body) {
    this.name = "ApiError";
    this.status = status;
    this.title = title || ("HTTP " + status);
    this.detail = detail || "";
    this.errors = errors || [];
    this.body = body || null;
    this.message = this.title + (this.detail ? ": " + this.detail : "");
  }
  ApiError.prototype = Object.create(Error.prototype);

  // fetch JSON from the API with the bearer token; problem+json errors become ApiError.
  function api(path, opts) {
    opts = opts || {};
    var headers = Object.assign({ "Accept": "application/json" }, opts.headers || {});
    var t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    var body = opts.body;
    if (opts.form) {
      body = opts.form;
    } else if (body !== undefined && body !== null && typeof body !== "string") {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    return window.fetch(path, { method: opts.method || (body ? "POST" : "GET"), headers: headers, body: body })
      .catch(function (e) {
        throw new ApiError(0, "Network error", "the server could not be reached (" + e.message + ")");
      })
      .then(function (resp) {
        var ctype = resp.headers.get("Content-Type") || "";
        var parse = ctype.indexOf("json") >= 0 ? resp.json() : resp.text().then(function (txt) { return { detail: txt }; });
        return parse.catch(function () { return {}; }).then(function (data) {
          if (resp.ok) return data;
          if (resp.status === 401 && !opts.noRedirect) { clearToken(); goLogin(); }
          var detail = data && data.detail !== undefined ? data.detail : "";
          if (typeof detail !== "string") detail = JSON.stringify(detail);
          var err = new ApiError(resp.status, (data && data.title) || resp.statusText || ("HTTP " + resp.status),
            detail, data && Array.isArray(data.errors) ? data.errors : [], data);
          if (resp.status === 429) err.retryAfter = resp.headers.get("Retry-After");
          throw err;
        });
      });
  }

  // ---------------------------------------------------------------- DOM
  function el(tag, attrs) {
    var node = document.createElement(tag);
    attrs = attrs || {};
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else if (k === "class") node.className = v;
      else if (k === "style") node.setAttribute("style", v);
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.keys(v).forEach(function (d) { node.dataset[d] = v[d]; });
      else if (v === true) node.setAttribute(k, "");
      else node.setAttribute(k, String(v));
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    if (typeof child === "string" || typeof child === "number") child = document.createTextNode(String(child));
    node.appendChild(child);
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(sel, root) { return (root || document).querySelector(sel); }

  // columns: [{key, label, num, fmt(row) -> string|Node, title}]
  function table(columns, rows, opts) {
    opts = opts || {};
    var thead = el("thead", null, el("tr", null, columns.map(function (c) {
      return el("th", { class: c.num ? "num" : null, title: c.title || null }, c.label);
    })));
    var tbody = el("tbody");
    rows.forEach(function (row, i) {
      var tr = el("tr", { class: opts.rowClass ? opts.rowClass(row, i) : null });
      if (opts.onRowClick) { tr.classList.add("clickable"); tr.addEventListener("click", function () { opts.onRowClick(row, tr); }); }
      columns.forEach(function (c) {
        var v = c.fmt ? c.fmt(row, i) : row[c.key];
        tr.appendChild(el("td", { class: c.num ? "num" : null }, v === null || v === undefined ? "–" : v));
      });
      tbody.appendChild(tr);
    });
    return el("div", { class: "table-wrap" }, el("table", { class: "data" + (opts.extraClass ? " " + opts.extraClass : ""), id: opts.id || null }, thead, tbody));
  }

  function kpi(label, value, sub, attrs) {
    return el("div", Object.assign({ class: "kpi" }, attrs || {}), el("div", { class: "label" }, label),
      el("div", { class: "value" }, value), sub ? el("div", { class: "sub" }, sub) : null);
  }

  function tag(text, kind, title) {
    return el("span", { class: "tag" + (kind ? " tag-" + kind : ""), title: title || null }, text);
  }
  function estimateTag(title) { return tag("estimate", "est", title || "Model estimate, not a guarantee"); }
  function sourceTag(source, asOf) {
    var s = String(source || "unknown").toLowerCase();
    var synthetic = s.indexOf("synth") >= 0 || s.indexOf("model") >= 0;
    var label = (synthetic ? "synthetic" : "real") + " prices" + (asOf ? " · as of " + fmt.datetime(asOf) : "");
    return tag(label, synthetic ? "synth" : "real", "pricing source: " + (source || "unknown"));
  }

  // First present value among dotted key paths: pick(obj, ["a.b", "c"], dflt).
  function pick(obj, keys, dflt) {
    for (var i = 0; i < keys.length; i++) {
      var parts = keys[i].split("."), v = obj;
      for (var j = 0; j < parts.length && v !== null && v !== undefined; j++) v = v[parts[j]];
      if (v !== undefined && v !== null) return v;
    }
    return dflt === undefined ? null : dflt;
  }

  // ---------------------------------------------------------------- formatting
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  var fmt = {
    num: function (v, d) { return isNum(v) ? v.toLocaleString("en-US", { minimumFractionDigits: d === undefined ? 2 : d, maximumFractionDigits: d === undefined ? 2 : d }) : "–"; },
    int: function (v) { return isNum(v) ? Math.round(v).toLocaleString("en-US") : "–"; },
    money: function (v, d) {
      if (!isNum(v)) return "–";
      var s = Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: d === undefined ? 0 : d, maximumFractionDigits: d === undefined ? 0 : d });
      return (v < 0 ? "−$" : "$") + s;
    },
    kmoney: function (v) {
      if (!isNum(v)) return "–";
      var a = Math.abs(v), s = a >= 1e6 ? (a / 1e6).toFixed(2) + "M" : (a >= 1e3 ? (a / 1e3).toFixed(1) + "k" : a.toFixed(0));
      return (v < 0 ? "−$" : "$") + s;
    },
    pct: function (v, d) { return isNum(v) ? (v * 100).toFixed(d === undefined ? 1 : d) + "%" : "–"; },
    signedPct: function (v, d) { return isNum(v) ? (v >= 0 ? "+" : "−") + Math.abs(v * 100).toFixed(d === undefined ? 1 : d) + "%" : "–"; },
    date: function (v) { if (!v) return "–"; var s = String(v); return s.length >= 10 ? s.slice(0, 10) : s; },
    datetime: function (v) {
      if (!v) return "–";
      var d = new Date(v);
      if (isNaN(d.getTime())) return String(v);
      return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
    }
  };

  // ---------------------------------------------------------------- panels
  // A panel is a .card[data-panel=NAME] holding a .panel-body. run() shows a spinner,
  // calls loader(body), and on failure shows the error with a Retry button.
  var panels = {};
  function panel(name, loader) {
    var card = document.querySelector('[data-panel="' + name + '"]');
    if (!card) throw new Error("no panel " + name);
    var body = card.querySelector(".panel-body") || card;
    var runs = 0;
    function run() {
      var mine = ++runs;
      card.dataset.state = "loading";
      var spinner = el("div", { class: "loading", role: "status" }, el("span", { class: "spinner" }), "Loading…");
      // Each run renders into its own box: a superseded run's late render lands in a detached node.
      var box = el("div", { class: "panel-content" });
      clear(body).appendChild(spinner);
      body.appendChild(box);
      var p;
      try { p = Promise.resolve(loader(box, card)); } catch (e) { p = Promise.reject(e); }
      return p.then(function (result) {
        if (mine !== runs) return result;      // a newer run owns the panel now
        if (spinner.parentNode) spinner.parentNode.removeChild(spinner);
        card.dataset.state = "ready";
        return result;
      }, function (err) {
        if (mine !== runs) return;
        showError(body, err, run);
        card.dataset.state = err && err.empty ? "empty" : "error";
      });
    }
    panels[name] = { run: run, card: card, body: body };
    return run();
  }
  function rerun(name) { return panels[name] ? panels[name].run() : Promise.resolve(); }

  function errorBox(err, retry, extra) {
    var status = err && err.status;
    var title = err && err.title ? err.title : "Something went wrong";
    if (status === 404 && err.notAvailable) title = "Not available";
    if (err && err.empty) {
      // nothing to show yet (not a failure): a neutral note, still with Retry
      return el("div", { class: "notice empty-state", role: "status" }, el("strong", null, title), " ", err.detail || "",
        retry ? el("div", null, el("button", { type: "button", class: "btn btn-small retry", onclick: function () { retry(); } }, "Retry")) : null);
    }
    var detail = err && err.detail ? err.detail : (err && err.message) || String(err);
    var fieldErrors = (err && err.errors) || [];
    // the detail often repeats every field error: then the list alone says it
    if (fieldErrors.length && fieldErrors[0].reason && detail.indexOf(fieldErrors[0].reason) >= 0) {
      detail = detail.split(":")[0] + ":";
    }
    var box = el("div", { class: "error-box", role: "alert" },
      el("div", { class: "error-title" }, title + (status ? " (" + status + ")" : "")),
      el("div", null, detail));
    if (err && err.errors && err.errors.length) {
      box.appendChild(el("ul", { class: "field-errors" }, err.errors.map(function (fe) {
        return el("li", null, (fe.line ? "line " + fe.line + ": " : "") + (fe.field || "") + (fe.field ? ": " : "") + (fe.reason || ""));
      })));
    }
    if (err && err.retryAfter) box.appendChild(el("div", { class: "small muted" }, "Retry after " + err.retryAfter + " s."));
    if (extra) box.appendChild(extra);
    if (retry) box.appendChild(el("button", { type: "button", class: "btn btn-small retry", onclick: function () { retry(); } }, "Retry"));
    return box;
  }
  function showError(body, err, retry) {
    if (!(err instanceof ApiError) && window.console) window.console.error(err);
    clear(body).appendChild(errorBox(err, retry));
  }

  // ---------------------------------------------------------------- charts
  var charts = [];
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function themedLayout(layout) {
    var text = cssVar("--text"), grid = cssVar("--border"), muted = cssVar("--muted");
    var base = {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: text, family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12 },
      margin: { l: 56, r: 16, t: 30, b: 44 },
      legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom", font: { color: muted }, bgcolor: "rgba(0,0,0,0)" },
      hoverlabel: { font: { family: "system-ui, sans-serif" } }
    };
    var out = Object.assign({}, base, layout || {});
    ["xaxis", "yaxis", "xaxis2", "yaxis2"].forEach(function (ax) {
      if (ax === "xaxis" || ax === "yaxis" || out[ax]) {
        out[ax] = Object.assign({ gridcolor: grid, zerolinecolor: grid, linecolor: grid, automargin: true }, out[ax] || {});
      }
    });
    return out;
  }
  function plot(node, traces, layout, config) {
    if (!window.Plotly) {
      clear(node).appendChild(el("div", { class: "error-box" }, "Charts are unavailable: the Plotly bundle did not load."));
      return;
    }
    if (!document.body.contains(node)) return;   // a superseded render
    var entry = { node: node, traces: traces, layout: layout, config: config };
    charts = charts.filter(function (c) { return c.node !== node && document.body.contains(c.node); });
    charts.push(entry);
    window.Plotly.react(node, traces, themedLayout(layout),
      Object.assign({ displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] }, config || {}));
    node.dataset.plotted = "1";
  }
  function replotAll() {
    charts.forEach(function (c) { if (document.body.contains(c.node)) plot(c.node, c.traces, c.layout, c.config); });
  }
  var palette = { port: "#64748b", hedged: "#2563eb", floor: "#dc2626", good: "#16a34a", bench: "#94a3b8", accent2: "#f59e0b" };

  // ---------------------------------------------------------------- theme
  function setTheme(dark) {
    document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
    try { window.localStorage.setItem(THEME_KEY, dark ? "dark" : "light"); } catch (e) { /* ignore */ }
    var btn = $("#theme-toggle");
    if (btn) btn.textContent = dark ? "\u2600" : "\u263E";
    replotAll();
  }
  function isDark() { return document.documentElement.getAttribute("data-theme") === "dark"; }

  // ---------------------------------------------------------------- user & portfolio
  var mePromise = null;
  function me() {
    if (!mePromise) mePromise = api("/api/me");
    return mePromise;
  }
  function portfolioId() {
    var sel = $("#portfolio-select");
    if (sel && sel.value) return sel.value;
    try { return window.localStorage.getItem(PORTFOLIO_KEY); } catch (e) { return null; }
  }
  function setPortfolioId(id) {
    try { window.localStorage.setItem(PORTFOLIO_KEY, String(id)); } catch (e) { /* ignore */ }
  }
  var portfoliosPromise = null;
  function portfolios(refresh) {
    if (!portfoliosPromise || refresh) {
      portfoliosPromise = api("/api/portfolios").then(function (data) {
        return Array.isArray(data) ? data : (data.portfolios || data.items || []);
      });
    }
    return portfoliosPromise;
  }
  // Fill the header's portfolio picker; resolves to the active portfolio id (or null).
  function loadPicker(selectId) {
    var sel = $("#portfolio-select");
    return portfolios(true).then(function (list) {
      var want = selectId !== undefined && selectId !== null ? String(selectId) : null;
      if (!want) { try { want = window.localStorage.getItem(PORTFOLIO_KEY); } catch (e) { want = null; } }
      if (!list.some(function (p) { return String(p.id) === want; })) want = list.length ? String(list[0].id) : null;
      if (sel) {
        clear(sel);
        if (!list.length) sel.appendChild(el("option", { value: "" }, "none yet"));
        list.forEach(function (p) { sel.appendChild(el("option", { value: String(p.id) }, p.name || ("#" + p.id))); });
        if (want) sel.value = want;
      }
      if (want) setPortfolioId(want);
      return want;
    });
  }
  var portfolioListeners = [];
  function onPortfolioChange(fn) { portfolioListeners.push(fn); }
  function requirePortfolio() {
    var id = portfolioId();
    if (!id) {
      var err = new ApiError(0, "No portfolio yet.", "Upload one on the Portfolio page (a CSV of symbol,quantity).");
      err.empty = true;
      return Promise.reject(err);
    }
    return Promise.resolve(id);
  }

  // ---------------------------------------------------------------- boot
  var readyFns = [];
  function onReady(fn) { readyFns.push(fn); }

  function boot() {
    var btn = $("#theme-toggle");
    if (btn) {
      btn.textContent = isDark() ? "\u2600" : "\u263E";
      btn.addEventListener("click", function () { setTheme(!isDark()); });
    }
    var pageName = document.body.dataset.page;
    if (pageName === "login") { readyFns.forEach(function (fn) { fn(); }); return; }
    if (!token()) { goLogin(); return; }
    var logout = $("#logout");
    if (logout) logout.addEventListener("click", function () { clearToken(); window.location.assign("/login"); });
    var sel = $("#portfolio-select");
    if (sel) sel.addEventListener("change", function () {
      setPortfolioId(sel.value);
      portfolioListeners.forEach(function (fn) { fn(sel.value); });
    });
    me().then(function (user) {
      var who = $("#whoami");
      if (who) who.textContent = (user.name || "user") + (user.role === "admin" ? " · admin" : "");
      if (user.role === "admin") {
        document.querySelectorAll(".admin-only").forEach(function (n) { n.hidden = false; });
      }
    }, function () { /* a 401 redirects to the login page; other errors show in the panels */ });
    loadPicker().catch(function () { return null; }).then(function () {
      readyFns.forEach(function (fn) { fn(); });
    });
  }

  window.FG = {
    api: api, ApiError: ApiError, token: token, setToken: setToken, clearToken: clearToken,
    el: el, clear: clear, $: $, table: table, kpi: kpi, tag: tag, estimateTag: estimateTag, sourceTag: sourceTag,
    fmt: fmt, isNum: isNum, pick: pick, panel: panel, rerun: rerun, errorBox: errorBox, showError: showError,
    plot: plot, palette: palette, cssVar: cssVar, isDark: isDark,
    me: me, portfolios: portfolios, loadPicker: loadPicker, portfolioId: portfolioId, setPortfolioId: setPortfolioId,
    onPortfolioChange: onPortfolioChange, requirePortfolio: requirePortfolio, onReady: onReady
  };

  // Every form here is driven by script: never let one fall through to a native
  // submission (a click before the page's handlers are attached would reload it).
  document.addEventListener("submit", function (ev) { ev.preventDefault(); }, true);

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
