// Turn the server's view JSON into what the page keeps: typed step columns, and value payloads
// packed as UTF-8 JSON in one transferable buffer (parsed lazily per step). Runs in a worker when
// served (so a large trace never blocks the page) and on the main thread for the file:// export.

export function prepareView(view) {
  const columns = {};
  const transfer = [];
  for (const key of ["file", "line", "frame", "stack", "event", "fn"]) {
    columns[key] = Int32Array.from(view.steps[key]);
    transfer.push(columns[key].buffer);
  }
  const encoder = new TextEncoder();
  const chunks = view.values.map(([, vals, , returned]) => encoder.encode(JSON.stringify({ values: vals, returned })));
  const offsets = new Int32Array(chunks.length + 1);
  chunks.forEach((chunk, k) => { offsets[k + 1] = offsets[k] + chunk.length; });
  const bytes = new Uint8Array(offsets[chunks.length]);
  chunks.forEach((chunk, k) => bytes.set(chunk, offsets[k]));
  transfer.push(bytes.buffer, offsets.buffer);
  const values = view.values.map(([step, vals, cleared, returned]) => [
    step,
    Object.keys(vals),
    cleared,
    returned !== null && returned !== undefined,
  ]);
  return { prepared: { ...view, steps: columns, values, valueBytes: bytes, valueOffsets: offsets }, transfer };
}
