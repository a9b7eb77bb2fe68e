// Index page: only the theme toggle (the list itself is server-rendered).
(function () {
  var button = document.getElementById("theme-toggle");
  if (button) button.addEventListener("click", function () { window.execlectureToggleTheme(); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "t" && !event.ctrlKey && !event.metaKey) window.execlectureToggleTheme();
  });
})();
