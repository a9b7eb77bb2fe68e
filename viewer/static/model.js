// The trace as the page navigates it: step columns, call depth, frame parents, values with
// checkpoints (so the environment at any step is rebuilt from at most CHECKPOINT_EVERY changes),
// and the step moves (step over/out, next execution of a line, next rendering).

const CHECKPOINT_EVERY = 32;

export function upperBound(sorted, value) {
  // First index whose element is > value (sorted ascending).
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Model {
  constructor(view) {
    this.view = view;
    this.n = view.steps.line.length;
    this.steps = view.steps;
    this.files = view.files;
    this.stacks = view.stacks;
    this.functions = view.functions;
    this.outline = view.outline;
    this.renderings = view.renderings;
    this.renderingSteps = view.renderings.map((r) => r[0]);
    this.output = view.output;
    this.outputSteps = view.output.map((o) => o[0]);
    this.exceptions = new Map(view.exceptions.map(([step, info]) => [step, info]));
    this._indexDepths();
    this._indexFrames();
    this.valueBytes = view.valueBytes;
    this.valueOffsets = view.valueOffsets;
    this.decoder = new TextDecoder();
    this._indexValues(view.values);
    this._indexLines();
  }

  _indexDepths() {
    const depthOfStack = new Int32Array(this.stacks.length);
    this.stacks.forEach((node, i) => { depthOfStack[i] = node[0] < 0 ? 1 : depthOfStack[node[0]] + 1; });
    this.depth = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const s = this.steps.stack[i];
      this.depth[i] = s < 0 ? 0 : depthOfStack[s];
    }
  }

  _indexFrames() {
    // A frame's parent is the frame last seen one level up when the frame first appears.
    this.parentFrame = new Map();
    this.frameFunction = new Map();
    const lastAtDepth = [];
    for (let i = 0; i < this.n; i++) {
      const frame = this.steps.frame[i];
      const d = this.depth[i];
      if (!this.parentFrame.has(frame)) {
        this.parentFrame.set(frame, d > 0 && lastAtDepth[d - 1] !== undefined ? lastAtDepth[d - 1] : -1);
        this.frameFunction.set(frame, this.functions[this.steps.fn[i]]);
      }
      lastAtDepth[d] = frame;
      lastAtDepth.length = d + 1;
    }
  }

  _indexValues(values) {
    // values: [[step, names, cleared, hasReturned]] in step order; payload k is bytes
    // valueOffsets[k]..valueOffsets[k + 1] of valueBytes.
    this.valueAt = new Map(); // step -> {names, cleared, hasReturned, index, parsed}
    this.frameChanges = new Map(); // frame -> {steps: [], snaps: [Map name -> step]}
    values.forEach(([step, names, cleared, hasReturned], index) => {
      this.valueAt.set(step, { names, cleared, hasReturned, index, parsed: null });
      const frame = this.steps.frame[step];
      let changes = this.frameChanges.get(frame);
      if (!changes) {
        changes = { steps: [], snaps: [new Map()], state: new Map() };
        this.frameChanges.set(frame, changes);
      }
      changes.steps.push(step);
      this._apply(changes.state, step);
      if (changes.steps.length % CHECKPOINT_EVERY === 0) changes.snaps.push(new Map(changes.state));
    });
    for (const changes of this.frameChanges.values()) delete changes.state;
  }

  _apply(state, step) {
    const entry = this.valueAt.get(step);
    for (const name of entry.cleared) state.delete(name);
    for (const name of entry.names) state.set(name, step);
  }

  _indexLines() {
    // file -> line -> ascending steps at that line
    this.lineSteps = this.files.map(() => new Map());
    for (let i = 0; i < this.n; i++) {
      const byLine = this.lineSteps[this.steps.file[i]];
      const line = this.steps.line[i];
      let list = byLine.get(line);
      if (!list) byLine.set(line, (list = []));
      list.push(i);
    }
  }

  value(step, name) {
    const entry = this.valueAt.get(step);
    if (!entry.parsed) {
      const k = entry.index;
      const slice = this.valueBytes.subarray(this.valueOffsets[k], this.valueOffsets[k + 1]);
      entry.parsed = JSON.parse(this.decoder.decode(slice));
    }
    return name === null ? entry.parsed.returned : entry.parsed.values[name];
  }

  frameState(frame, step) {
    // Map name -> step of its latest value, for `frame` after `step`.
    const changes = this.frameChanges.get(frame);
    if (!changes) return new Map();
    const count = upperBound(changes.steps, step);
    const snapIndex = Math.floor(count / CHECKPOINT_EVERY);
    const state = new Map(changes.snaps[snapIndex]);
    for (let k = snapIndex * CHECKPOINT_EVERY; k < count; k++) this._apply(state, changes.steps[k]);
    return state;
  }

  callers(step) {
    // Caller frames of a step, innermost first: [{function, file, line}].
    const out = [];
    for (let s = this.steps.stack[step]; s >= 0; s = this.stacks[s][0]) {
      const [, file, line, fn] = this.stacks[s];
      out.push({ function: fn, file, line });
    }
    return out;
  }

  env(step) {
    // The frames on the stack at `step`, innermost first, each with its inspected names.
    const frames = [];
    const callers = this.callers(step);
    let frame = this.steps.frame[step];
    const here = { function: this.functions[this.steps.fn[step]], file: this.steps.file[step], line: this.steps.line[step] };
    const places = [here, ...callers];
    for (let k = 0; k < places.length && frame !== undefined && frame >= 0; k++) {
      const state = this.frameState(frame, step);
      const entry = k === 0 ? this.valueAt.get(step) : undefined;
      frames.push({
        frame,
        ...places[k],
        vars: [...state.entries()],
        changed: new Set(entry ? entry.names : []),
        returned: entry && entry.hasReturned ? step : -1,
      });
      frame = this.parentFrame.get(frame);
    }
    return frames;
  }

  stepOver(step, direction) {
    const d = this.depth[step];
    for (let i = step + direction; i >= 0 && i < this.n; i += direction) {
      if (this.depth[i] <= d) return i;
    }
    return direction > 0 ? this.n - 1 : 0;
  }

  stepOut(step) {
    const d = this.depth[step];
    for (let i = step + 1; i < this.n; i++) if (this.depth[i] < d) return i;
    return this.n - 1;
  }

  nextExecution(file, line, step) {
    // Next step at file:line after `step` (wrapping to the first), or -1 if the line never runs.
    const list = this.lineSteps[file] && this.lineSteps[file].get(line);
    if (!list || !list.length) return -1;
    const k = upperBound(list, step);
    return k < list.length ? list[k] : list[0];
  }

  nearestAt(file, line, step) {
    const list = this.lineSteps[file] && this.lineSteps[file].get(line);
    if (!list || !list.length) return -1;
    let best = list[0];
    for (const s of list) if (Math.abs(s - step) < Math.abs(best - step)) best = s;
    return best;
  }

  nextRendering(step, direction) {
    // The next (or previous) step that shows something new: for presentation clickers.
    const steps = this.renderingSteps;
    if (direction > 0) {
      const k = upperBound(steps, step);
      return k < steps.length ? steps[k] : this.n - 1;
    }
    const k = upperBound(steps, step - 1) - 1;
    return k >= 0 ? steps[k] : 0;
  }

  section(step) {
    // Index of the outline section containing `step` (-1 before the first).
    let found = -1;
    this.outline.forEach((entry, i) => { if (entry.step <= step) found = i; });
    return found;
  }
}
