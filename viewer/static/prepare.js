// Turn the server's view JSON into what the page keeps: typed step columns and value payloads
// left as JSON strings (parsed lazily per step). Runs in a worker when served (so a large trace
// never blocks the page) and on the main thread for the file:// export.

export function prepareView(view) {
  const columns = {};
  const transfer = [];
  for (const key of ["file", "line", "frame", "stack", "event", "fn"]) {
    columns[key] = Int32Array.from(view.steps[key]);
    transfer.push(columns[key].buffer);
  }
  const values = view.values.map(([step, vals, cleared, returned]) => [
    step,
    Object.keys(vals),
    cleared,
    returned !== null && returned !== undefined,
    JSON.stringify({ values: vals, returned }),
  ]);
  return { prepared: { ...view, steps: columns, values }, transfer };
}
