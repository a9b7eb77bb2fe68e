"""HTTP routes, one module per resource: pages, traces, files, health, events."""
