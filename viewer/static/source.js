// The source pane: one lazily built DOM per file, the current line marked, renderings inserted
// after the lines that emitted them (those up to the current step, in order), hidden lines hidden.
// Moving a step touches only the old/new current line and the renderings in between.
import { upperBound } from "./model.js";

export class SourcePane {
  constructor(container, model, onLineClick) {
    this.container = container;
    this.scroller = container.parentElement; // #source-pane scrolls; #source holds the files
    this.model = model;
    this.fileEls = new Map();
    this.lineEls = new Map();
    this.renderBoxes = new Map();
    this.renderEls = [];
    this.visible = 0;
    this.currentFile = -1;
    this.currentLine = null;
    this.fresh = [];
    container.addEventListener("click", (event) => {
      const link = event.target.closest("a.code-link[data-file]");
      if (link) {
        event.preventDefault();
        this.reveal(Number(link.dataset.file), Number(link.dataset.line));
        return;
      }
      if (event.target.closest(".renders, a, details, summary")) return;
      const line = event.target.closest(".line");
      if (line) onLineClick(Number(line.dataset.file), Number(line.dataset.line));
    });
  }

  ensureFile(file) {
    let box = this.fileEls.get(file);
    if (box) return box;
    const info = this.model.files[file];
    const hidden = new Set(info.hidden || []);
    box = document.createElement("div");
    box.className = "file hl";
    box.dataset.path = info.path;
    const lines = [];
    const fragment = document.createDocumentFragment();
    info.lines.forEach((htmlLine, i) => {
      const row = document.createElement("div");
      const number = i + 1;
      row.className = hidden.has(number) ? "line hidden-line" : "line";
      row.dataset.line = String(number);
      row.dataset.file = String(file);
      // Lines are server-highlighted from escaped tokens (safe HTML).
      row.innerHTML = `<span class="ln">${number}</span><span class="code">${htmlLine || " "}</span>`;
      lines.push(row);
      fragment.append(row);
    });
    box.append(fragment);
    box.hidden = true;
    this.container.append(box);
    this.fileEls.set(file, box);
    this.lineEls.set(file, lines);
    return box;
  }

  lineEl(file, line) {
    this.ensureFile(file);
    const lines = this.lineEls.get(file);
    return lines[Math.min(Math.max(line, 1), lines.length) - 1];
  }

  showFile(file) {
    if (file === this.currentFile) return;
    if (this.currentFile >= 0) this.fileEls.get(this.currentFile).hidden = true;
    this.ensureFile(file).hidden = false;
    this.currentFile = file;
  }

  renderBox(file, startLine) {
    // After the statement's last line (a multi-line text(...) call shows below its closing paren).
    const ends = this.model.files[file].ends || {};
    const line = ends[startLine] || startLine;
    const key = `${file}:${line}`;
    let box = this.renderBoxes.get(key);
    if (!box) {
      box = document.createElement("div");
      box.className = "renders";
      this.lineEl(file, line).after(box);
      this.renderBoxes.set(key, box);
    }
    return box;
  }

  syncRenderings(step) {
    const model = this.model;
    const count = upperBound(model.renderingSteps, step);
    for (let k = this.renderEls.length; k < count; k++) {
      const [at, kind, html] = model.renderings[k];
      const item = document.createElement("div");
      item.className = `rendering kind-${kind}`;
      item.dataset.step = String(at);
      item.innerHTML = html; // sanitized on the server (nh3 / SVG allow-list)
      this.renderBox(model.steps.file[at], model.steps.line[at]).append(item);
      this.renderEls.push(item);
    }
    for (let k = this.visible; k < count; k++) this.renderEls[k].hidden = false;
    for (let k = count; k < this.visible; k++) this.renderEls[k].hidden = true;
    this.visible = count;
    for (const item of this.fresh) item.classList.remove("fresh");
    this.fresh = [];
    for (let k = count - 1; k >= 0 && model.renderings[k][0] === step; k--) {
      this.renderEls[k].classList.add("fresh");
      this.fresh.push(this.renderEls[k]);
    }
  }

  setStep(step) {
    const model = this.model;
    const file = model.steps.file[step];
    this.showFile(file);
    this.syncRenderings(step);
    const row = this.lineEl(file, model.steps.line[step]);
    if (this.currentLine !== row) {
      if (this.currentLine) this.currentLine.classList.remove("current", "call", "exception");
      this.currentLine = row;
    }
    row.classList.remove("call", "exception");
    row.classList.add("current");
    this.markStatement(file, model.steps.line[step]);
    const event = model.steps.event[step];
    if (event === 1) row.classList.add("call");
    if (event === 2) row.classList.add("exception");
    this.scrollToCurrent();
  }

  markStatement(file, line) {
    // The continuation lines of a multi-line statement share the current-line mark.
    for (const rest of this.statementRest || []) rest.classList.remove("current-rest");
    const end = (this.model.files[file].ends || {})[line] || line;
    this.statementRest = [];
    for (let k = line + 1; k <= end; k++) {
      const rest = this.lineEl(file, k);
      rest.classList.add("current-rest");
      this.statementRest.push(rest);
    }
  }

  scrollToCurrent() {
    // In prose-only mode code lines are not displayed: follow the latest rendering instead.
    const row = this.currentLine;
    if (!row) return;
    const anchor = row.offsetParent !== null ? row : this.renderEls[this.visible - 1];
    if (anchor) this.keepVisible(this.fresh.length ? this.fresh[0] : anchor, anchor);
  }

  keepVisible(target, row) {
    const box = this.scroller.getBoundingClientRect();
    const a = row.getBoundingClientRect();
    const b = target.getBoundingClientRect();
    const top = Math.min(a.top, b.top);
    const bottom = Math.max(a.bottom, b.bottom);
    const margin = Math.min(80, box.height / 5);
    if (top < box.top + margin || bottom > box.bottom - margin) {
      const overflow = bottom - top > box.height - 2 * margin;
      this.scroller.scrollTop += overflow ? a.top - box.top - margin : top - box.top - box.height * 0.3;
    }
  }

  reveal(file, line) {
    this.showFile(file);
    const row = this.lineEl(file, line);
    row.classList.add("flash");
    setTimeout(() => row.classList.remove("flash"), 1200);
    this.keepVisible(row, row);
  }

  search(query) {
    // Mark lines of the shown file containing `query` (case-insensitive); returns them in order.
    for (const row of this.container.querySelectorAll(".line.match")) row.classList.remove("match", "search-focus");
    if (!query || this.currentFile < 0) return [];
    const needle = query.toLowerCase();
    const found = this.lineEls.get(this.currentFile).filter(
      (row) => !row.classList.contains("hidden-line") && row.lastChild.textContent.toLowerCase().includes(needle),
    );
    for (const row of found) row.classList.add("match");
    return found;
  }

  focusMatch(row) {
    for (const old of this.container.querySelectorAll(".search-focus")) old.classList.remove("search-focus");
    row.classList.add("search-focus");
    this.keepVisible(row, row);
  }
}
