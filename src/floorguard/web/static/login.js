// Login: check the pasted token against the API, keep it in sessionStorage, go on.
(function () {
  "use strict";
  var FG = window.FG;
  FG.onReady(function () {
    var form = FG.$("#login-form");
    var input = FG.$("#token");
    var box = FG.$("#login-error");
    var params = new URLSearchParams(window.location.search);
    var next = params.get("next") || "/portfolio";
    if (next.charAt(0) !== "/" || next.charAt(1) === "/") next = "/portfolio";  // no open redirect
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var t = input.value.trim();
      box.hidden = true;
      if (!t) return;
      var btn = FG.$("#login-submit");
      btn.disabled = true;
      FG.setToken(t);
      FG.api("/api/me", { noRedirect: true }).then(function () {
        window.location.assign(next);
      }, function (err) {
        FG.clearToken();
        btn.disabled = false;
        FG.clear(box).appendChild(FG.el("div", null, err.status === 401
          ? "This token is not valid. Check that you pasted the whole token."
          : err.message));
        box.hidden = false;
      });
    });
    input.focus();
  });
})();
