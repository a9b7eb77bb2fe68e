// The side panes (environment, call stack, output) and the navigation chrome (progress bar,
// outline). Each keeps what it last drew and redraws only when its input changed.
import { upperBound } from "./model.js";
import { renderValue } from "./values.js";

const MAX_OUTPUT_CHARS = 20000; // shown tail of the output; earlier text is summarised

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class EnvPane {
  // Frames and value rows are cached by identity (frame id; name@step of the value), so a step
  // rebuilds only rows whose value changed; the "changed" mark and line numbers are updated in place.
  constructor(container, model) {
    this.container = container;
    this.model = model;
    this.frames = new Map(); // frame id -> {box, where, rows: Map key -> row, keys: string}
  }

  drawRow(name, step, isReturn) {
    const row = el("div", isReturn ? "var returned" : "var");
    row.dataset.name = name;
    row.append(el("span", "name", isReturn ? "↩ return" : name), renderValue(this.model.value(step, isReturn ? null : name)));
    return row;
  }

  frameBox(frame, isCurrent) {
    let cached = this.frames.get(frame.frame);
    if (!cached) {
      const box = el("section", "frame");
      const head = el("h3", "frame-head");
      const where = el("span", "where");
      head.append(el("span", "fn", frame.function), where);
      box.append(head);
      cached = { box, where, rows: new Map(), keys: null, empty: el("div", "empty", "no inspected values") };
      this.frames.set(frame.frame, cached);
    }
    cached.box.classList.toggle("current", isCurrent);
    cached.where.textContent = `line ${frame.line}`;
    const wanted = frame.vars.map(([name, step]) => [`${name}@${step}`, name, step, false]);
    if (frame.returned >= 0) wanted.push([`return@${frame.returned}`, "return", frame.returned, true]);
    const keys = wanted.map((w) => w[0]).join("|");
    const rows = new Map();
    for (const [key, name, step, isReturn] of wanted) {
      const row = cached.rows.get(key) || this.drawRow(name, step, isReturn);
      row.classList.toggle("changed", isReturn || (frame.changed.has(name) && step === frame.at));
      rows.set(key, row);
    }
    if (keys !== cached.keys) {
      cached.box.replaceChildren(cached.box.firstChild, ...(rows.size ? rows.values() : [cached.empty]));
      cached.keys = keys;
    }
    cached.rows = rows;
    return cached.box;
  }

  setStep(step) {
    const frames = this.model.env(step);
    const boxes = frames.map((frame, k) => this.frameBox({ ...frame, at: step }, k === 0));
    const live = new Set(frames.map((f) => f.frame));
    for (const id of this.frames.keys()) if (!live.has(id)) this.frames.delete(id);
    const current = [...this.container.children];
    const isSame = current.length === boxes.length && current.every((child, i) => child === boxes[i]);
    if (!isSame) this.container.replaceChildren(...(boxes.length ? boxes : [el("div", "empty", "no frames")]));
  }
}

export class StackPane {
  constructor(container, model, onPick) {
    this.container = container;
    this.model = model;
    this.key = null;
    container.addEventListener("click", (event) => {
      const item = event.target.closest("li[data-file]");
      if (item) onPick(Number(item.dataset.file), Number(item.dataset.line));
    });
  }

  setStep(step) {
    const m = this.model;
    const key = `${m.steps.stack[step]}:${m.steps.fn[step]}:${m.steps.line[step]}`;
    if (key === this.key) return;
    this.key = key;
    const here = { function: m.functions[m.steps.fn[step]], file: m.steps.file[step], line: m.steps.line[step] };
    const items = [here, ...m.callers(step)].map((f, k) => {
      const li = el("li", k === 0 ? "current" : "");
      li.dataset.file = String(f.file);
      li.dataset.line = String(f.line);
      const path = m.files[f.file].path.split("/").pop();
      li.append(el("span", "fn", f.function), el("span", "where", `${path}:${f.line}`));
      return li;
    });
    this.container.replaceChildren(...items);
  }
}

export class OutputPane {
  // stdout/stderr so far: one text node per run of the same stream, appended to while stepping
  // forward; rebuilt (from the last MAX_OUTPUT_CHARS) on a jump back or far ahead.
  constructor(container, model) {
    this.container = container;
    this.model = model;
    this.count = 0;
  }

  setStep(step) {
    const m = this.model;
    const count = upperBound(m.outputSteps, step);
    if (count === this.count) return;
    if (count < this.count || count - this.count > 200) this.rebuild(count);
    else for (let k = this.count; k < count; k++) this.append(m.output[k][1], m.output[k][2]);
    this.count = count;
    this.container.scrollTop = this.container.scrollHeight;
  }

  rebuild(count) {
    const runs = [];
    let chars = 0;
    for (let k = count - 1; k >= 0 && chars < MAX_OUTPUT_CHARS; k--) {
      const [, text, isErr] = this.model.output[k];
      chars += text.length;
      if (runs.length && runs[runs.length - 1].isErr === isErr) runs[runs.length - 1].parts.push(text);
      else runs.push({ isErr, parts: [text] });
    }
    const spans = runs.reverse().map((run) => el("span", run.isErr ? "stderr" : "stdout", run.parts.reverse().join("")));
    if (chars >= MAX_OUTPUT_CHARS) spans.unshift(el("span", "output-cut", "… earlier output not shown …\n"));
    this.container.replaceChildren(...spans);
  }

  append(text, isErr) {
    const last = this.container.lastChild;
    if (last && last.className === (isErr ? "stderr" : "stdout")) last.firstChild.appendData(text);
    else this.container.append(el("span", isErr ? "stderr" : "stdout", text));
  }
}

export class Chrome {
  // Progress bar with outline ticks, the outline sidebar, the position counter.
  constructor(elements, model, onJump) {
    this.e = elements;
    this.model = model;
    this.section = -2;
    const n = Math.max(model.n - 1, 1);
    const ticks = model.outline.map((entry, i) => {
      const tick = el("button", "tick");
      tick.style.left = `${(100 * entry.step) / n}%`;
      tick.title = entry.title;
      tick.dataset.step = String(entry.step);
      tick.dataset.index = String(i);
      return tick;
    });
    elements.ticks.replaceChildren(...ticks);
    const items = model.outline.map((entry, i) => {
      const li = el("li");
      const button = el("button", "section-link");
      button.dataset.step = String(entry.step);
      button.append(el("span", "section-title", entry.title));
      if (entry.comment && entry.comment !== entry.title) button.append(el("span", "section-comment", entry.comment));
      li.append(button);
      li.dataset.index = String(i);
      return li;
    });
    elements.outline.replaceChildren(...items);
    elements.outlinePane.hidden = !items.length;
    for (const container of [elements.outline, elements.ticks]) {
      container.addEventListener("click", (event) => {
        const button = event.target.closest("[data-step]");
        if (button) onJump(Number(button.dataset.step));
      });
    }
    elements.progress.addEventListener("click", (event) => {
      if (event.target.closest(".tick")) return;
      const box = elements.progress.getBoundingClientRect();
      onJump(Math.round(((event.clientX - box.left) / box.width) * (model.n - 1)));
    });
    elements.total.textContent = String(model.n);
  }

  setStep(step) {
    const m = this.model;
    this.e.fill.style.width = `${(100 * step) / Math.max(m.n - 1, 1)}%`;
    this.e.stepNum.textContent = String(step + 1);
    const section = m.section(step);
    if (section !== this.section) {
      const items = this.e.outline.children;
      if (this.section >= 0 && items[this.section]) items[this.section].classList.remove("current");
      if (section >= 0 && items[section]) items[section].classList.add("current");
      this.e.sectionName.textContent = section >= 0 ? m.outline[section].title : "";
      this.section = section;
    }
  }
}
