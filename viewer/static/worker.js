// Module worker: fetch and parse a trace's view off the main thread, then hand it over.
import { prepareView } from "./prepare.js";

self.onmessage = async (event) => {
  const { url } = event.data;
  try {
    const response = await fetch(url, { cache: "no-cache" });
    const text = await response.text();
    if (!response.ok) {
      let detail = text;
      try { detail = JSON.parse(text).detail; } catch (e) { /* plain text */ }
      self.postMessage({ error: detail, status: response.status });
      return;
    }
    const { prepared, transfer } = prepareView(JSON.parse(text));
    self.postMessage({ view: prepared, bytes: text.length }, transfer);
  } catch (error) {
    self.postMessage({ error: String(error), status: 0 });
  }
};
