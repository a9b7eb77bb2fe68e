// Load a trace's view: from a worker when served over http, from an embedded script for file://.
import { prepareView } from "./prepare.js";

export function loadView(name) {
  if (window.EXECLECTURE_VIEW) {
    return Promise.resolve(prepareView(window.EXECLECTURE_VIEW).prepared);
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("static/worker.js", document.baseURI), { type: "module" });
    worker.onmessage = (event) => {
      worker.terminate();
      if (event.data.error !== undefined) {
        const error = new Error(event.data.error);
        error.status = event.data.status;
        reject(error);
      } else {
        resolve(event.data.view);
      }
    };
    worker.onerror = (event) => { worker.terminate(); reject(new Error(event.message || "worker failed")); };
    worker.postMessage({ url: new URL(`api/traces/${encodeURIComponent(name)}/view`, document.baseURI).href });
  });
}
