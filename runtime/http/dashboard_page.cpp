#include "runtime/http/dashboard_page.hpp"

namespace varsync::http {

// The page is self-contained (no CDN, no external file): inline CSS and
// script. The script opens /events (Server-Sent Events; the browser
// reconnects by itself when the node restarts) and renders each sample:
// the cluster's nodes, groups and variables from the directory's status,
// and rates (steps/s, bytes/s) from the difference between two samples.
// Rows carry data-* attributes (data-node, data-state, data-variable,
// data-version) so that tests and scripts can read the page's state.
std::string_view dashboard_page() {
  return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>varsync dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --bg:#0f172a; --panel:#111c33; --line:#24324f; --text:#e2e8f0;
          --muted:#94a3b8; --ok:#22c55e; --warn:#f59e0b; --bad:#ef4444; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg);
         color:var(--text); }
  header { display:flex; gap:24px; align-items:baseline; padding:14px 24px;
           border-bottom:1px solid var(--line); }
  header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
  header .meta { color:var(--muted); }
  #connection[data-state="live"] { color:var(--ok); }
  #connection[data-state="lost"] { color:var(--bad); }
  main { display:grid; grid-template-columns: 1fr 1fr; gap:16px; padding:16px 24px; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px;
            padding:12px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size:13px; text-transform:uppercase; letter-spacing:1px;
       color:var(--muted); margin:0 0 8px; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line);
           white-space:nowrap; }
  th { color:var(--muted); font-weight:500; }
  td.num { text-align:right; font-variant-numeric: tabular-nums; }
  .state { font-weight:600; }
  .state.alive, .state.available { color:var(--ok); }
  .state.left, .state.missing { color:var(--warn); }
  .state.lost, .state.unavailable { color:var(--bad); }
  .tiles { display:flex; gap:16px; flex-wrap:wrap; }
  .tile { min-width:140px; }
  .tile .value { font-size:22px; font-variant-numeric: tabular-nums; }
  .tile .label { color:var(--muted); font-size:12px; }
  #note { color:var(--warn); }
</style>
</head>
<body>
<header>
  <h1>varsync</h1>
  <span class="meta">node <b id="node">?</b></span>
  <span class="meta">directory held by <b id="holder">?</b>, epoch <b id="epoch">?</b></span>
  <span class="meta" id="connection" data-state="connecting">connecting</span>
  <span class="meta" id="updated"></span>
  <span id="note"></span>
</header>
<main>
  <section class="wide">
    <h2>This node</h2>
    <div class="tiles">
      <div class="tile"><div class="value" id="bytes-rate">-</div><div class="label">tensor bytes sent / s</div></div>
      <div class="tile"><div class="value" id="bytes-total">-</div><div class="label">tensor bytes sent</div></div>
      <div class="tile"><div class="value" id="messages-rate">-</div><div class="label">actor messages / s</div></div>
      <div class="tile"><div class="value" id="samples">0</div><div class="label">updates received</div></div>
    </div>
  </section>
  <section>
    <h2>Nodes <span id="node-count"></span></h2>
    <table><thead><tr><th>name</th><th>address</th><th>role</th><th>state</th></tr></thead>
    <tbody id="nodes"></tbody></table>
  </section>
  <section>
    <h2>Replica groups</h2>
    <table><thead><tr><th>group</th><th>size</th><th>alive</th><th>lost</th><th>replicas</th></tr></thead>
    <tbody id="groups"></tbody></table>
  </section>
  <section class="wide">
    <h2>Variables</h2>
    <table><thead><tr><th>name</th><th>group</th><th>type and policy</th><th>node</th>
      <th>state</th><th>version</th><th>clock</th><th>steps/s</th>
      <th>step latency (here)</th><th>staleness (here)</th></tr></thead>
    <tbody id="variables"></tbody></table>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let previous = null;
let received = 0;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(cells, attributes) {
  const tr = document.createElement("tr");
  for (const [key, value] of Object.entries(attributes || {}))
    tr.setAttribute("data-" + key, String(value));
  for (const c of cells) tr.appendChild(c);
  return tr;
}

function human(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit + 1 < units.length) { value /= 1024; ++unit; }
  return value.toFixed(unit === 0 ? 0 : 1) + " " + units[unit];
}

function seconds(value) {
  if (!isFinite(value)) return "-";
  if (value < 0.001) return (value * 1e6).toFixed(0) + " us";
  if (value < 1) return (value * 1e3).toFixed(1) + " ms";
  return value.toFixed(2) + " s";
}

function rate(now, before, dt) {
  return before === undefined || dt <= 0 ? NaN : (now - before) / dt;
}

function render(sample) {
  received += 1;
  $("samples").textContent = received;
  $("node").textContent = sample.node;
  $("updated").textContent = "updated " + new Date(sample.time_unix_ms).toLocaleTimeString();
  const dt = previous ? (sample.time_unix_ms - previous.time_unix_ms) / 1000 : 0;
  const stats = sample.stats;
  const bytesRate = rate(stats.bytes_sent, previous && previous.stats.bytes_sent, dt);
  $("bytes-rate").textContent = isFinite(bytesRate) ? human(bytesRate) : "-";
  $("bytes-total").textContent = human(stats.bytes_sent);
  const messageRate = rate(stats.actor_messages, previous && previous.stats.actor_messages, dt);
  $("messages-rate").textContent = isFinite(messageRate) ? messageRate.toFixed(0) : "-";

  const status = sample.status;
  $("note").textContent = sample.status_error || (status && status.directory_note) || "";
  if (!status) { previous = sample; return; }
  $("holder").textContent = status.holder;
  $("epoch").textContent = status.epoch;

  const nodes = $("nodes");
  nodes.replaceChildren(...status.nodes.map((n) => row([
    cell(n.name), cell(n.address || "-"), cell(n.holder ? "holder" : "member"),
    cell(n.state, "state " + n.state)], {node: n.name, state: n.state})));
  const alive = status.nodes.filter((n) => n.state === "alive").length;
  $("node-count").textContent = "(" + alive + " alive of " + status.nodes.length + ")";

  $("groups").replaceChildren(...status.groups.map((g) => {
    const by = (s) => g.replicas.filter((r) => r.state === s).map((r) => r.index);
    return row([cell(g.name), cell(g.size, "num"), cell(by("alive").join(",") || "-"),
      cell(by("lost").join(",") || "-"),
      cell(g.replicas.map((r) => r.index + "@" + (r.node || "?") +
        (r.rejoins ? " (rejoined " + r.rejoins + "x)" : "")).join("  "))],
      {group: g.name});
  }));

  const before = {};
  if (previous && previous.status)
    for (const v of previous.status.variables) before[v.name] = v;
  $("variables").replaceChildren(...status.variables.map((v) => {
    const steps = rate(v.version, before[v.name] && before[v.name].version, dt);
    const local = (sample.variables || {})[v.name];
    const latency = local && local.steps > 0 ? local.step_seconds_sum / local.steps : NaN;
    const staleness = local && local.staleness_reads > 0
      ? (local.staleness_sum / local.staleness_reads).toFixed(2) : "-";
    const state = v.available ? "available" : "unavailable";
    return row([cell(v.name), cell(v.group), cell(v.description), cell(v.node),
      cell(state, "state " + state), cell(v.version, "num version"), cell(v.clock, "num"),
      cell(isFinite(steps) ? steps.toFixed(1) : "-", "num"), cell(seconds(latency), "num"),
      cell(staleness, "num")], {variable: v.name, version: v.version});
  }));
  previous = sample;
}

function connect() {
  const events = new EventSource("events");
  events.onopen = () => {
    $("connection").textContent = "live";
    $("connection").dataset.state = "live";
  };
  events.onmessage = (message) => render(JSON.parse(message.data));
  events.onerror = () => {
    $("connection").textContent = "reconnecting";
    $("connection").dataset.state = "lost";
  };
}
connect();
</script>
</body>
</html>
)html";
}

} // namespace varsync::http
