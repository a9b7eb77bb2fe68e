// Classic script run before first paint: apply the stored theme, else follow the system.
(function () {
  var stored = null;
  try { stored = localStorage.getItem("execlecture-theme"); } catch (e) { /* file:// or private mode */ }
  var media = window.matchMedia("(prefers-color-scheme: dark)");
  document.documentElement.dataset.theme = stored || (media.matches ? "dark" : "light");
  media.addEventListener("change", function (event) {
    var kept = null;
    try { kept = localStorage.getItem("execlecture-theme"); } catch (e) { /* ignore */ }
    if (!kept) document.documentElement.dataset.theme = event.matches ? "dark" : "light";
  });
  window.execlectureToggleTheme = function () {
    var next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("execlecture-theme", next); } catch (e) { /* not persisted */ }
    return next;
  };
})();
