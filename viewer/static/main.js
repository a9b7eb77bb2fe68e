// The lecture page: load the trace (off the main thread), then step through it by keyboard and
// mouse. URL state ?trace=NAME&step=N, N counted from 1 as on screen (history for jumps), themes, presenter mode, live reload.
import { loadView } from "./loader.js";
import { Model } from "./model.js";
import { SourcePane } from "./source.js";
import { EnvPane, StackPane, OutputPane, Chrome } from "./panes.js";

const $ = (id) => document.getElementById(id);
const URL_DELAY_MS = 250;
const PUSH_GAP_MS = 1000;
const PRESENTER_MODES = ["", "presenter", "presenter prose-only"];

class Viewer {
  constructor(name, view) {
    this.name = name;
    this.step = -1;
    this.timings = [];
    this.lastPush = 0;
    this.urlTimer = 0;
    this.matches = [];
    this.matchIndex = -1;
    this.install(view);
  }

  install(view) {
    const model = new Model(view);
    this.model = model;
    this.view = view;
    // A live reload installs a new trace: fresh copies of the panes drop the old click listeners.
    for (const id of ["source", "stack", "outline-list", "progress"]) $(id).replaceWith($(id).cloneNode(true));
    $("source").replaceChildren();
    this.source = new SourcePane($("source"), model, (file, line) => this.runTo(file, line));
    this.env = new EnvPane($("env"), model);
    this.stack = new StackPane($("stack"), model, (file, line) => this.source.reveal(file, line));
    this.output = new OutputPane($("output"), model);
    this.chrome = new Chrome({
      fill: $("progress-fill"), ticks: $("progress-ticks"), progress: $("progress"), outline: $("outline-list"),
      outlinePane: $("outline"), stepNum: $("step-num"), total: $("step-total"), sectionName: $("section-name"),
    }, model, (step) => this.go(step, { push: true }));
    $("title").textContent = view.title;
    document.title = `${view.title} · execlecture`;
    this.showTraceStatus();
  }

  showTraceStatus() {
    const info = this.view.exception;
    if (this.view.status === "error" && info) {
      showBanner(`The lecture raised ${info.type}: ${info.message}`, "error", info.traceback);
    }
  }

  go(step, { push = false, replaceUrl = true } = {}) {
    const target = Math.max(0, Math.min(this.model.n - 1, step | 0));
    if (target === this.step || this.model.n === 0) return;
    const started = performance.now();
    this.step = target;
    this.source.setStep(target);
    this.env.setStep(target);
    this.stack.setStep(target);
    this.output.setStep(target);
    this.chrome.setStep(target);
    this.showStepException(target);
    this.timings.push(performance.now() - started);
    if (replaceUrl) this.scheduleUrl(push);
  }

  showStepException(step) {
    const info = this.model.exceptions.get(step);
    const box = $("step-exception");
    box.hidden = !info;
    if (info) box.textContent = `${info.type}: ${info.message}`;
  }

  scheduleUrl(push) {
    const now = performance.now();
    const isPush = push || now - this.lastPush > PUSH_GAP_MS;
    const url = new URL(location.href);
    url.searchParams.set("trace", this.name);
    url.searchParams.set("step", String(this.step + 1));  // as the counter shows it
    if (isPush) {
      clearTimeout(this.urlTimer);
      this.urlTimer = 0;
      history.pushState({ step: this.step }, "", url);
      this.lastPush = now;
      return;
    }
    clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(() => {
      history.replaceState({ step: this.step }, "", url);
      this.urlTimer = 0;
    }, URL_DELAY_MS);
    this.lastPush = now;
  }

  runTo(file, line) {
    const target = this.model.nextExecution(file, line, this.step);
    if (target < 0) flash(`line ${line} never runs in this trace`);
    else this.go(target, { push: true });
  }

  key(event) {
    const m = this.model;
    const s = this.step;
    const shift = event.shiftKey;
    const actions = {
      ArrowRight: () => this.go(shift ? m.stepOver(s, 1) : s + 1),
      ArrowLeft: () => this.go(shift ? m.stepOver(s, -1) : s - 1),
      l: () => this.go(s + 1), h: () => this.go(s - 1),
      j: () => this.go(m.stepOver(s, 1)), k: () => this.go(m.stepOver(s, -1)),
      u: () => this.go(m.stepOut(s), { push: true }),
      Home: () => this.go(0, { push: true }), End: () => this.go(m.n - 1, { push: true }),
      PageDown: () => this.go(m.nextRendering(s, 1), { push: true }),
      PageUp: () => this.go(m.nextRendering(s, -1), { push: true }),
      " ": () => this.go(shift ? m.nextRendering(s, -1) : m.nextRendering(s, 1), { push: true }),
      g: () => openBox("goto-box", "goto-input"),
      "/": () => openBox("search-box", "search-input"),
      "?": () => toggleHelp(),
      t: () => window.execlectureToggleTheme(),
      p: () => cyclePresenter(),
      o: () => document.body.classList.toggle("outline-open"),
      Escape: () => closeOverlays(),
    };
    const action = actions[event.key];
    if (!action) return false;
    action();
    return true;
  }

  search(query) {
    this.matches = this.source.search(query);
    const line = this.model.steps.line[this.step];
    this.matchIndex = this.matches.findIndex((row) => Number(row.dataset.line) >= line) - 1;
    $("search-count").textContent = query ? `${this.matches.length} line${this.matches.length === 1 ? "" : "s"}` : "";
    this.nextMatch(1);
  }

  nextMatch(direction) {
    if (!this.matches.length) return;
    this.matchIndex = (this.matchIndex + direction + this.matches.length) % this.matches.length;
    this.source.focusMatch(this.matches[this.matchIndex]);
  }

  reloaded(view) {
    // A new trace of the same lecture: stay on the same line if it still runs.
    const old = this.model;
    const oldStep = this.step;
    const path = old.files[old.steps.file[oldStep]].path;
    const line = old.steps.line[oldStep];
    hideBanner();
    this.install(view);
    const file = this.model.files.findIndex((f) => f.path === path);
    const found = file >= 0 ? this.model.nearestAt(file, line, oldStep) : -1;
    this.step = -1;
    this.go(found >= 0 ? found : Math.min(oldStep, this.model.n - 1), { replaceUrl: true });
    if (view.status !== "error") flash("Reloaded: the lecture was re-traced");
  }
}

function showBanner(text, kind, details) {
  const banner = $("banner");
  banner.className = `banner ${kind}`;
  banner.replaceChildren();
  const strong = document.createElement("strong");
  strong.textContent = text;
  banner.append(strong);
  if (details) {
    const pre = document.createElement("pre");
    pre.textContent = details;
    banner.append(pre);
  }
  const close = document.createElement("button");
  close.className = "close";
  close.textContent = "×";
  close.title = "Dismiss";
  close.addEventListener("click", hideBanner);
  banner.append(close);
  banner.hidden = false;
}

function hideBanner() { $("banner").hidden = true; }

let flashTimer = 0;
function flash(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { box.hidden = true; }, 2500);
}

function openBox(boxId, inputId) {
  closeOverlays();
  $(boxId).hidden = false;
  $(inputId).focus();
  $(inputId).select();
}

function closeOverlays() {
  for (const id of ["goto-box", "search-box", "help"]) $(id).hidden = true;
  if (window.viewer) window.viewer.source.search("");
  document.activeElement && document.activeElement.blur && document.activeElement.blur();
}

function toggleHelp() {
  const help = $("help");
  const willShow = help.hidden;
  closeOverlays();
  help.hidden = !willShow;
}

function cyclePresenter() {
  const classes = document.body.classList;
  const current = classes.contains("prose-only") ? 2 : classes.contains("presenter") ? 1 : 0;
  const next = PRESENTER_MODES[(current + 1) % PRESENTER_MODES.length];
  classes.remove("presenter", "prose-only");
  for (const c of next.split(" ").filter(Boolean)) classes.add(c);
  $("presenter-toggle").setAttribute("aria-pressed", String(Boolean(next)));
  if (window.viewer) window.viewer.source.scrollToCurrent();
  flash(next ? (next.includes("prose-only") ? "Presenter: prose only" : "Presenter: prose + code") : "Presenter mode off");
}

function wireControls(viewer) {
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (viewer.key(event)) event.preventDefault();
  });
  $("goto-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      const value = Number($("goto-input").value);
      closeOverlays();
      if (Number.isFinite(value)) viewer.go(value - 1, { push: true });
    } else if (event.key === "Escape") closeOverlays();
  });
  $("search-input").addEventListener("input", () => viewer.search($("search-input").value));
  $("search-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.altKey === false && (event.ctrlKey || event.metaKey)) {
      const row = viewer.matches[viewer.matchIndex];
      closeOverlays();
      if (row) viewer.runTo(Number(row.dataset.file), Number(row.dataset.line));
    } else if (event.key === "Enter") viewer.nextMatch(event.shiftKey ? -1 : 1);
    else if (event.key === "Escape") closeOverlays();
  });
  const buttons = {
    "first-button": () => viewer.go(0, { push: true }),
    "prev-button": () => viewer.go(viewer.step - 1),
    "next-button": () => viewer.go(viewer.step + 1),
    "last-button": () => viewer.go(viewer.model.n - 1, { push: true }),
    "theme-toggle": () => window.execlectureToggleTheme(),
    "presenter-toggle": () => cyclePresenter(),
    "help-toggle": () => toggleHelp(),
    "outline-toggle": () => document.body.classList.toggle("outline-open"),
    "help-close": () => toggleHelp(),
  };
  for (const [id, action] of Object.entries(buttons)) $(id).addEventListener("click", (e) => { e.currentTarget.blur(); action(); });
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => viewer.source.scrollToCurrent(), 100);  // phone rotation, etc.
  });
  window.addEventListener("popstate", () => {
    viewer.go(stepFromUrl(location.href), { replaceUrl: false });
  });
}

// The step index named by ?step=N: N counts from 1, as the counter on screen does (absent or
// not a number: the first step; past the end: go() clamps it to the last).
function stepFromUrl(href) {
  const step = Number(new URL(href).searchParams.get("step") || 1);
  return Number.isFinite(step) ? step - 1 : 0;
}

function watchForChanges(viewer) {
  if (window.EXECLECTURE_VIEW || location.protocol === "file:" || !window.EventSource) return;  // static export
  const source = new EventSource(new URL("api/events", document.baseURI));
  source.onmessage = async (message) => {
    const event = JSON.parse(message.data);
    if (event.trace !== viewer.name) return;
    if (event.kind === "tracing") flash("Re-tracing…");
    else if (event.kind === "error") showBanner("Re-tracing failed; showing the previous trace.", "error", event.message);
    else if (event.kind === "updated") {
      try {
        viewer.reloaded(await loadView(viewer.name));
      } catch (error) {
        showBanner(`The new trace could not be loaded (${error.status || ""}): ${error.message}`, "error");
      }
    }
  };
}

async function main() {
  const params = new URL(location.href).searchParams;
  const name = params.get("trace") || document.body.dataset.trace || "";
  const started = performance.now();
  let view;
  try {
    view = await loadView(name);
  } catch (error) {
    $("title").textContent = error.status === 404 ? "Trace not found" : "Invalid trace";
    showBanner(error.status === 422 ? "This trace failed validation:" : "The trace could not be loaded:", "error", error.message);
    document.body.classList.add("failed");
    return;
  }
  const viewer = new Viewer(name, view);
  window.viewer = viewer;
  wireControls(viewer);
  viewer.go(stepFromUrl(location.href), { replaceUrl: false });
  history.replaceState({ step: viewer.step }, "", location.href);
  viewer.firstRenderMs = performance.now() - started;
  document.body.classList.add("ready");
  watchForChanges(viewer);
}

main();
