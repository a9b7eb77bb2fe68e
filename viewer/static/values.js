// Value nodes -> DOM: scalars inline, containers collapsed past a few items (with counts),
// tensors as a table with shape/dtype/stats and a heatmap for 2-D, objects as field tables.

const INLINE_ITEMS = 8;
const SHOWN_ITEMS = 100;
const MAX_CELLS = 4096;
const LONG_STRING = 160;
const MAX_TABLE_CELLS = 256; // larger 2-D tensors are drawn as a canvas heatmap (fast, readable)

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function scalarText(node) {
  switch (node.kind) {
    case "none": return "None";
    case "bool": return node.value ? "True" : "False";
    case "int": case "float": return String(node.value);
    case "complex": return node.value !== undefined ? String(node.value) : `${node.real}+${node.imag}j`;
    case "str": return JSON.stringify(node.value ?? "");
    case "bytes": return `bytes[${node.length ?? "?"}] ${node.value ?? ""}${node.omitted ? "…" : ""}`;
    case "function": case "module": case "type": return `<${node.kind} ${node.name ?? node.value ?? node.repr ?? ""}>`;
    case "ref": return `→ same object as #${node.id ?? "?"}${node.type ? ` (${node.type})` : ""}`;
    case "repr": return node.repr ?? node.value ?? node.text ?? "?";
    default: return null;
  }
}

const BRACKETS = { list: ["[", "]"], tuple: ["(", ")"], set: ["{", "}"], frozenset: ["frozenset({", "})"], dict: ["{", "}"] };

function itemCount(node) {
  return node.length ?? node.len ?? (node.items ? node.items.length : 0);
}

function isSimple(node) {
  return node && scalarText(node) !== null && !(node.kind === "str" && String(node.value).length > 40);
}

function renderContainer(node) {
  const [open, close] = BRACKETS[node.kind];
  const items = node.items || [];
  const count = itemCount(node);
  const isDict = node.kind === "dict";
  const simple = items.length <= INLINE_ITEMS && items.every((it) => (isDict ? isSimple(it[0]) && isSimple(it[1]) : isSimple(it)));
  if (simple && count === items.length) {
    const parts = items.map((it) => (isDict ? `${scalarText(it[0])}: ${scalarText(it[1])}` : scalarText(it)));
    const trailing = node.kind === "tuple" && items.length === 1 ? "," : "";
    return el("span", "v-inline", `${open}${parts.join(", ")}${trailing}${close}`);
  }
  const details = el("details", "v-container");
  const summary = el("summary", null);
  const preview = items.slice(0, 4).map((it) => (isDict ? scalarText(it[0]) : scalarText(it)) ?? "…").join(", ");
  summary.append(el("span", "v-kind", `${node.kind} · ${count.toLocaleString()} item${count === 1 ? "" : "s"}`));
  summary.append(el("span", "v-preview", ` ${open}${preview}${count > 4 ? ", …" : ""}${close}`));
  details.append(summary);
  details.addEventListener("toggle", () => {
    if (!details.open || details.dataset.filled) return;
    details.dataset.filled = "1";
    const list = el("div", "v-items");
    items.slice(0, SHOWN_ITEMS).forEach((it, i) => {
      const row = el("div", "v-item");
      row.append(el("span", "v-key", isDict ? (scalarText(it[0]) ?? "?") : String(i)));
      row.append(renderValue(isDict ? it[1] : it));
      list.append(row);
    });
    if (count > Math.min(items.length, SHOWN_ITEMS)) {
      list.append(el("div", "v-more", `… ${(count - Math.min(items.length, SHOWN_ITEMS)).toLocaleString()} more not shown`));
    }
    details.append(list);
  });
  return details;
}

function formatNumber(x) {
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : x.toFixed(Math.abs(x) >= 100 ? 1 : 3);
}

function heatColor(t) {
  // t in [0, 1] -> a light blue-white-red diverging colour (dark text stays readable).
  const c = Math.max(0, Math.min(1, t));
  const mix = (a, b, u) => Math.round(a + (b - a) * u);
  if (c < 0.5) {
    const u = c / 0.5;
    return `rgb(${mix(120, 250, u)}, ${mix(165, 250, u)}, ${mix(245, 250, u)})`;
  }
  const u = (c - 0.5) / 0.5;
  return `rgb(${mix(250, 240, u)}, ${mix(250, 120, u)}, ${mix(250, 110, u)})`;
}

function tensorRows(node) {
  if (node.data !== undefined) return { rows: node.data, isPartial: false };
  if (node.head !== undefined) return { rows: node.head, tail: node.tail, isPartial: true };
  return { rows: null };
}

function renderTensor(node) {
  const box = el("div", "v-tensor");
  const shape = node.shape || [];
  const header = el("div", "v-tensor-head");
  header.append(el("span", "v-kind", `${node.library ?? "tensor"} ${node.dtype ?? ""}`));
  header.append(el("span", "v-shape", `[${shape.join(", ")}]`));
  if (node.device && node.device !== "cpu") header.append(el("span", "v-device", node.device));
  box.append(header);
  const stats = node.stats;
  if (stats) {
    const line = ["min", "max", "mean", "std"].filter((k) => stats[k] !== undefined && stats[k] !== null)
      .map((k) => `${k} ${formatNumber(stats[k])}`).join(" · ");
    box.append(el("div", "v-stats", line));
  }
  const { rows, tail, isPartial } = tensorRows(node);
  if (rows === null) return box;
  if (shape.length === 0 && !isPartial) {
    box.append(el("span", "v-scalar", formatNumber(rows)));
    return box;
  }
  if (isPartial || (shape.length === 1 && rows.length > 16)) {
    // Flat element lists (a large tensor's head and tail, or a long vector) wrap like text.
    const flat = el("div", "v-flat");
    for (const value of rows) flat.append(el("span", null, formatNumber(value)));
    if (isPartial && tail) {
      flat.append(el("span", "v-gap", `… ${Number(node.omitted ?? 0).toLocaleString()} more …`));
      for (const value of tail) flat.append(el("span", null, formatNumber(value)));
    }
    box.append(flat);
    return box;
  }
  const matrix = shape.length === 1 ? [rows] : shape.length === 2 ? rows : null;
  if (!matrix) {
    const pre = el("pre", "v-nd", JSON.stringify(rows).slice(0, 2000));
    box.append(pre);
    return box;
  }
  const is2d = shape.length === 2 && !isPartial;
  if (is2d && shape[0] * shape[1] > MAX_TABLE_CELLS) {
    box.append(heatmapCanvas(matrix, Number(stats ? stats.min : 0), Number(stats ? stats.max : 1)));
    return box;
  }
  const lo = stats ? Number(stats.min) : Math.min(...matrix.flat().filter((v) => typeof v === "number"));
  const hi = stats ? Number(stats.max) : Math.max(...matrix.flat().filter((v) => typeof v === "number"));
  const table = el("table", is2d ? "v-matrix heatmap" : "v-matrix");
  let cells = 0;
  const addRows = (list) => {
    for (const row of list) {
      if (cells > MAX_CELLS) break;
      const tr = el("tr");
      for (const value of Array.isArray(row) ? row : [row]) {
        const td = el("td", null, formatNumber(value));
        if (is2d && typeof value === "number" && hi > lo) td.style.backgroundColor = heatColor((value - lo) / (hi - lo));
        tr.append(td);
        cells++;
      }
      table.append(tr);
    }
  };
  addRows(matrix);
  box.append(table);
  return box;
}

function heatmapCanvas(matrix, lo, hi) {
  // One pixel per element, scaled up with crisp edges; hovering shows the element.
  const rows = matrix.length;
  const cols = rows ? matrix[0].length : 0;
  const canvas = document.createElement("canvas");
  canvas.className = "v-heatmap";
  canvas.width = cols;
  canvas.height = rows;
  const scale = Math.max(1, Math.min(8, Math.floor(240 / Math.max(cols, rows, 1))));
  canvas.style.width = `${cols * scale}px`;
  canvas.style.height = `${rows * scale}px`;
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  const span = hi > lo ? hi - lo : 1;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const value = matrix[r][c];
      const rgb = heatColor(typeof value === "number" ? (value - lo) / span : 0.5).match(/\d+/g);
      const k = 4 * (r * cols + c);
      image.data[k] = Number(rgb[0]);
      image.data[k + 1] = Number(rgb[1]);
      image.data[k + 2] = Number(rgb[2]);
      image.data[k + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
  canvas.addEventListener("mousemove", (event) => {
    const box = canvas.getBoundingClientRect();
    const r = Math.floor(((event.clientY - box.top) / box.height) * rows);
    const c = Math.floor(((event.clientX - box.left) / box.width) * cols);
    if (matrix[r] !== undefined && matrix[r][c] !== undefined) canvas.title = `[${r}, ${c}] = ${formatNumber(matrix[r][c])}`;
  });
  return canvas;
}

function renderObject(node) {
  const fields = node.fields || [];
  const details = el("details", "v-container v-object");
  const summary = el("summary", null);
  summary.append(el("span", "v-kind", node.type ?? "object"));
  if (node.repr) summary.append(el("span", "v-preview", ` ${node.repr}`));
  details.append(summary);
  const list = el("div", "v-items");
  for (const [name, value] of fields.slice(0, SHOWN_ITEMS)) {
    const row = el("div", "v-item");
    row.append(el("span", "v-key", name));
    row.append(renderValue(value));
    list.append(row);
  }
  details.append(list);
  details.open = fields.length <= 4;
  return details;
}

export function renderValue(node) {
  if (!node || typeof node !== "object") return el("span", "v-scalar", String(node));
  if (node.id !== undefined && node.kind !== "ref") {
    // The target of {"kind": "ref", "id": n} elsewhere (shared or cyclic objects).
    const box = el("span", "v-with-id");
    box.append(el("span", "v-id", `#${node.id} `), renderValue({ ...node, id: undefined }));
    return box;
  }
  if (node.kind in BRACKETS) return renderContainer(node);
  if (node.kind === "tensor") return renderTensor(node);
  if (node.kind === "object") return renderObject(node);
  if (node.kind === "str" && String(node.value ?? "").length > LONG_STRING) {
    // Long strings start collapsed: a preview line that expands to the whole (stored) text.
    const value = String(node.value);
    const total = node.length ?? value.length;
    const details = el("details", "v-container v-long-str");
    const summary = el("summary", null);
    summary.append(el("span", "v-str", JSON.stringify(value.slice(0, 80)).slice(0, -1) + "…"));
    summary.append(el("span", "v-kind", ` str · ${total.toLocaleString()} chars`));
    details.append(summary, el("div", "v-str v-full", JSON.stringify(value)));
    return details;
  }
  let text = scalarText(node) ?? JSON.stringify(node).slice(0, 200);
  if (node.kind === "str" && node.length !== undefined && node.length > String(node.value ?? "").length) {
    text += ` … (${node.length.toLocaleString()} chars)`;
  }
  return el("span", `v-scalar v-${node.kind}`, text);
}
