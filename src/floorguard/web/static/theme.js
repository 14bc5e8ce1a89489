// Applies the saved colour theme before the first paint (no flash of the wrong theme).
(function () {
  "use strict";
  var saved = null;
  try { saved = window.localStorage.getItem("fg_theme"); } catch (e) { saved = null; }
  var dark = saved ? saved === "dark"
    : (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
