// lambdalab console: the SVG helpers every drawing uses (console.js's concurrency chart
// too), and the graphs views: metrics, the X-Ray service graph and a trace's timeline,
// and cost "what if". Each view reads its JSON when it comes into sight, and again after
// what the live stream says may change it (console.js re-sends every event on document
// as a "lambdalab-console" CustomEvent): at once, then at most once a second.
"use strict";
window.LambdalabGraphs = (function () {
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const EVERY_MS = 1000;
  const iso = (epoch) => new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
  const minute = (epoch) => new Date(epoch * 1000).toISOString().slice(11, 16);
  const round = (value, places) => (value === null || value === undefined ? "" : String(Number(value.toFixed(places))));
  const percent = (share) => Math.round(share * 100) + " %";

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) { const title = document.createElementNS(SVG, "title"); title.textContent = text; node.appendChild(title); }
    return node;
  }
  function label(x, y, text, className) { const t = svg("text", { x, y, class: className || "tick" }); t.textContent = text; return t; }
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // The text alternative of a drawing: its numbers in a table, behind a <details>.
  function numbers(caption, head, rows) {
    const details = element("details", "numbers");
    details.appendChild(element("summary", "", "The numbers"));
    const table = document.createElement("table");
    table.createCaption().textContent = caption;
    const top = table.createTHead().insertRow();
    for (const h of head) { const th = element("th", "", h); th.scope = "col"; top.appendChild(th); }
    const body = table.createTBody();
    for (const row of rows) { const tr = body.insertRow(); for (const value of row) tr.insertCell().textContent = value; }
    details.appendChild(table);
    return details;
  }

  // -- metric graphs ----------------------------------------------------------------------

  // One metric over the graphs' window: bars for sums, a line for durations. Each point
  // keeps its time and value (data-t, data-v) and says them in its title.
  function metricChart(name, series, answer) {
    const W = 240, H = 90, left = 30, top = 8, bottom = 16;
    const bars = !series.label.startsWith("Duration");
    // counts start at a ceiling of 1; a duration's scale follows it below 1 ms too
    const ceiling = Math.max(bars ? 1 : 0.001, ...series.points.map(([, v]) => v)) * 1.15;
    const span = answer.end - answer.start;
    const x = (t) => left + ((t - answer.start) / span) * (W - left - 4);
    const y = (v) => top + (H - top - bottom) * (1 - v / ceiling);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "metric-chart", role: "img",
      "aria-label": `${series.label} of ${name}, per minute of the last hour: ${series.points.length} minutes with data` });
    chart.append(svg("line", { x1: left, y1: y(0), x2: W - 4, y2: y(0), class: "axis" }),
      label(2, y(0), "0"), label(2, top + 8, round(ceiling / 1.15, 3)),
      label(left, H - 2, minute(answer.start)), label(W - 34, H - 2, minute(answer.end)));
    const step = (answer.period / span) * (W - left - 4);
    const points = series.points.map(([t, v]) => {
      const text = `${series.label} at ${iso(t)}: ${round(v, 3)}`;
      const mark = bars
        ? svg("rect", { x: x(t), y: y(v), width: Math.max(1.5, step - 1), height: y(0) - y(v), class: "point" }, text)
        : svg("circle", { cx: x(t) + step / 2, cy: y(v), r: 2, class: "point" }, text);
      mark.dataset.t = t; mark.dataset.v = v;
      return mark;
    });
    if (!bars && points.length > 1)
      chart.appendChild(svg("polyline", { points: series.points.map(([t, v]) => `${x(t) + step / 2},${y(v)}`).join(" "), class: "line" }));
    chart.append(...points);
    return chart;
  }

  // One function's five graphs.
  function functionGraphs(f, answer) {
    const article = element("article", "function-graphs");
    article.dataset.function = f.name;
    article.appendChild(element("h3", "", f.name));
    const row = element("div", "graph-row");
    for (const name of answer.labels) {
      const series = { label: name, points: f.series[name] || [] };
      const figure = element("figure", "graph");
      figure.dataset.metric = name;
      const last = series.points.length ? round(series.points[series.points.length - 1][1], 3) : "no data";
      figure.append(element("figcaption", "", `${name}: ${last}`), metricChart(f.name, series, answer),
        numbers(`${name} of ${f.name}, per minute (lab clock)`, ["Minute (lab clock)", name],
          series.points.map(([t, v]) => [iso(t), round(v, 3)])));
      row.appendChild(figure);
    }
    article.appendChild(row);
    return article;
  }

  // Only the functions whose numbers (or the window) changed are drawn again: an invoke
  // changes one function's graphs of 50.
  const drawn = new Map();  // function -> [its numbers as JSON, its <article>]
  let shown = null;         // the window drawn, and every function's numbers in it
  function drawMetrics(answer) {
    shown = { start: answer.start, functions: answer.functions };
    const articles = answer.functions.map((f) => {
      const key = JSON.stringify([answer.start, f.series]);
      const kept = drawn.get(f.name);
      if (kept && kept[0] === key) return kept[1];
      const article = functionGraphs(f, answer);
      if (kept && kept[1].querySelector("details[open]")) {  // keep a table the reader opened
        const opened = new Set([...kept[1].querySelectorAll("figure:has(details[open])")].map((n) => n.dataset.metric));
        for (const figure of article.querySelectorAll("figure")) if (opened.has(figure.dataset.metric)) figure.querySelector("details").open = true;
      }
      drawn.set(f.name, [key, article]);
      return article;
    });
    const names = new Set(answer.functions.map((f) => f.name));
    for (const name of [...drawn.keys()]) if (!names.has(name)) drawn.delete(name);
    const view = $("metric-graphs");
    if (!articles.length) { view.textContent = "No functions yet."; return; }
    if (articles.length === view.children.length && articles.every((a, i) => view.children[i] === a)) return;
    view.replaceChildren(...articles);
  }

  // After invokes of a few functions, only theirs are read (one function's five series,
  // not fifty's) and put in place; a new minute, or anything else, reads them all.
  const readAll = () => read("api/graphs/metrics", drawMetrics, "metric-graphs");
  async function readMetrics() {
    const some = changed; changed = new Set();
    if (some === null || shown === null || some.size === 0 || some.size > 5) return readAll();
    try {
      const query = new URLSearchParams([...some].map((name) => ["function", name]));
      const response = await fetch("api/graphs/metrics?" + query, { cache: "no-store" });
      const answer = await response.json();
      if (!response.ok) { $("metric-graphs").textContent = answer.message; return; }
      const fresh = new Map(answer.functions.map((f) => [f.name, f]));
      const known = new Set(shown.functions.map((f) => f.name));
      if (answer.start !== shown.start || [...fresh.keys()].some((name) => !known.has(name))) return readAll();
      drawMetrics({ ...answer, functions: shown.functions.map((f) => fresh.get(f.name) || f) });
    } catch (error) { changed = null; throw error; }  // read them all next time
  }
  // The functions invoked since the last read (null: read every function).
  let changed = null;

  // -- the X-Ray service graph --------------------------------------------------------------

  function drawServices(answer) {
    const chart = $("service-graph");
    const NW = 150, NH = 44, GAP_X = 90, GAP_Y = 24;
    const rows = new Map();
    const place = new Map();
    for (const node of answer.nodes) {
      const row = rows.get(node.column) || 0; rows.set(node.column, row + 1);
      place.set(node.id, { x: 10 + node.column * (NW + GAP_X), y: 10 + row * (NH + GAP_Y) });
    }
    const W = 20 + Math.max(1, ...[...rows.keys()].map((c) => c + 1)) * (NW + GAP_X);
    const H = 20 + Math.max(1, ...rows.values()) * (NH + GAP_Y);
    const edges = answer.edges.map((edge) => {
      const a = place.get(edge.from), b = place.get(edge.to);
      const group = svg("g", { class: "edge" + (edge.fault_share ? " faulted" : edge.error_share ? " errored" : "") });
      group.dataset.from = edge.from; group.dataset.to = edge.to; group.dataset.total = edge.total;
      const words = `${edge.total} calls, ${percent(edge.error_share)} errors, ${percent(edge.fault_share)} faults`;
      group.append(svg("line", { x1: a.x + NW, y1: a.y + NH / 2, x2: b.x, y2: b.y + NH / 2, "marker-end": "url(#arrow)" }, words),
        label((a.x + NW + b.x) / 2 - 30, (a.y + b.y + NH) / 2 - 4, `${edge.total} · ${percent(edge.fault_share + edge.error_share)} failed`, "edge-label"));
      return group;
    });
    const nodes = answer.nodes.map((node) => {
      const p = place.get(node.id);
      const group = svg("g", { class: "node " + node.state + (node.faults ? " faulted" : node.errors ? " errored" : "") });
      group.dataset.name = node.name; group.dataset.type = node.type;
      const stats = node.total === null ? "inferred caller" : `${node.total} calls, avg ${round(node.average_ms, 1)} ms`;
      group.append(svg("rect", { x: p.x, y: p.y, width: NW, height: NH, rx: 6 }, `${node.name} (${node.type}): ${stats}`),
        label(p.x + 6, p.y + 17, node.name.slice(0, 22), "node-name"), label(p.x + 6, p.y + 34, node.type.slice(0, 26), "node-type"));
      return group;
    });
    const arrow = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
    arrow.appendChild(svg("path", { d: "M0,0L10,5L0,10z", class: "arrowhead" }));
    const defs = svg("defs", {}); defs.appendChild(arrow);
    chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
    chart.style.maxWidth = W + "px";
    chart.replaceChildren(defs, ...edges, ...nodes);
    const name = new Map(answer.nodes.map((n) => [n.id, n.name + " (" + n.type + ")"]));
    $("service-numbers").replaceChildren(numbers("The service graph's edges: calls from one service to another in the newest traces",
      ["From", "To", "Calls", "Errors", "Faults", "Throttles"],
      answer.edges.map((e) => [name.get(e.from), name.get(e.to), e.total, e.errors, e.faults, e.throttles])));
    $("service-summary").textContent = answer.nodes.length
      ? `${answer.nodes.length} services, ${answer.edges.length} edges, from the newest ${answer.traces} traces of the last hour ` +
        `of the lab's clock (at most ${answer.traces_max}).`
      : "No traces in the last hour: set a function's tracing to Active and invoke it.";
  }

  // -- traces and one trace's timeline -----------------------------------------------------

  function drawTraceList(answer) {
    $("trace-list").tBodies[0].replaceChildren(...answer.traces.map((trace) => {
      const row = document.createElement("tr");
      const open = element("button", "open-trace", trace.id);
      open.type = "button"; open.dataset.trace = trace.id;
      open.setAttribute("aria-label", "Show the timeline of trace " + trace.id);
      row.insertCell().appendChild(open);
      row.insertCell().textContent = trace.entry;
      row.insertCell().textContent = iso(trace.start);
      row.insertCell().textContent = round(trace.duration_ms, 1);
      const status = trace.fault ? "fault" : trace.error ? "error" : trace.throttle ? "throttle" : "ok";
      const cell = row.insertCell(); cell.textContent = status; cell.className = "outcome " + status;
      return row;
    }));
  }

  async function openTrace(id) {
    const response = await fetch("api/traces/" + encodeURIComponent(id), { cache: "no-store" });
    const answer = await response.json();
    const view = $("trace-detail");
    view.hidden = false;
    if (!response.ok) { $("trace-heading").textContent = answer.message; $("trace-timeline").replaceChildren(); return; }
    $("trace-heading").textContent = `Trace ${answer.id}: ${round(answer.duration_ms, 1)} ms`;
    const W = 760, ROW = 20, left = 190;
    const total = Math.max(answer.duration_ms, ...answer.bars.map((b) => b.start_ms + b.duration_ms), 0.001);
    const x = (msValue) => left + (msValue / total) * (W - left - 60);
    const chart = $("trace-timeline");
    chart.setAttribute("viewBox", `0 0 ${W} ${answer.bars.length * ROW + 6}`);
    chart.replaceChildren(...answer.bars.map((bar, i) => {
      const failed = bar.fault ? "fault" : bar.error ? "error" : bar.throttle ? "throttle" : "ok";
      const group = svg("g", { class: "bar " + bar.kind + " " + failed });
      Object.assign(group.dataset, { id: bar.id, name: bar.name, start: bar.start_ms, duration: bar.duration_ms });
      const text = `${bar.name} (${bar.kind}${bar.origin ? ", " + bar.origin : ""}): starts at ${round(bar.start_ms, 3)} ms, ` +
        `takes ${round(bar.duration_ms, 3)} ms${failed === "ok" ? "" : ", " + failed}`;
      const kind = bar.origin ? " · " + String(bar.origin).replace(/^AWS::/, "") : "";
      group.append(label(4 + bar.depth * 12, i * ROW + 14, (String(bar.name) + kind).slice(0, 30) + (failed === "ok" ? "" : " ⚠"), "bar-name"),
        svg("rect", { x: x(bar.start_ms), y: i * ROW + 3, width: Math.max(1, x(bar.start_ms + bar.duration_ms) - x(bar.start_ms)), height: ROW - 6, rx: 2 }, text),
        label(x(bar.start_ms + bar.duration_ms) + 4, i * ROW + 14, round(bar.duration_ms, 1) + " ms"));
      return group;
    }));
    $("trace-numbers").replaceChildren(numbers("The timeline's bars: each segment and subsegment",
      ["Name", "Kind", "Depth", "Start (ms)", "Duration (ms)", "Outcome"],
      answer.bars.map((b) => [b.name, b.kind, b.depth, round(b.start_ms, 3), round(b.duration_ms, 3),
        b.fault ? "fault" : b.error ? "error" : b.throttle ? "throttle" : "ok"])));
    view.focus();
  }
  document.addEventListener("click", (event) => {
    const target = event.target.closest && event.target.closest("button.open-trace");
    if (target) openTrace(target.dataset.trace);
  });

  // -- cost what-if ---------------------------------------------------------------------------

  function drawWhatIf(answer) {
    const per = answer.invokes.toLocaleString("en");
    $("whatif-tables").replaceChildren(...answer.functions.map((f) => {
      const table = document.createElement("table");
      table.className = "whatif"; table.dataset.function = f.name;
      table.createCaption().textContent = `${f.name} (now ${f.memory_mb} MB, ${f.architecture}): measured at ` +
        `${f.measured_at_mb} MB over ${f.invokes_measured} invokes; USD per ${per} invokes, before the free tier.`;
      const head = table.createTHead().insertRow();
      for (const h of ["Memory (MB)", "vCPU", "Billed ms if CPU-bound", "USD if CPU-bound", "USD if waiting (duration unchanged)"]) {
        const th = element("th", "", h); th.scope = "col"; head.appendChild(th);
      }
      const body = table.createTBody();
      for (const row of f.rows) {
        const tr = body.insertRow(); tr.dataset.memory = row.memory_mb;
        if (row.measured) tr.className = "measured";
        const th = element("th", "", row.memory_mb + (row.measured ? " (measured)" : "")); th.scope = "row"; tr.appendChild(th);
        tr.insertCell().textContent = round(row.vcpus, 2);
        tr.insertCell().textContent = round(row.cpu_bound_billed_ms, 1);
        for (const [usd, cheapest] of [[row.cpu_bound_usd, row.cpu_bound_cheapest], [row.waiting_usd, row.waiting_cheapest]]) {
          const td = tr.insertCell(); td.textContent = "$" + usd.toFixed(4);
          if (cheapest) { td.className = "cheapest"; td.appendChild(element("strong", "", " ★ cheapest")); }
        }
      }
      return table;
    }));
    if (!answer.functions.length) $("whatif-tables").textContent = "No function has run yet.";
  }

  // -- reading, when in sight and after changes -----------------------------------------------

  async function read(path, draw, missingId) {
    const response = await fetch(path, { cache: "no-store" });
    const answer = await response.json();
    if (!response.ok) { $(missingId).textContent = answer.message; return; }
    draw(answer);
  }
  const views = {
    "graphs-view": readMetrics,
    "xray-view": () => Promise.all([read("api/graphs/services", drawServices, "service-summary"),
      read("api/traces", drawTraceList, "service-summary")]),
    "whatif-view": () => read("api/whatif", drawWhatIf, "whatif-tables"),
  };
  const seen = new Set();   // views in sight
  const stale = new Set();  // views changed since they were read
  let timer = null, confirming = null, last = 0;
  function readStale() {
    timer = null;
    for (const id of [...stale]) if (seen.has(id)) { stale.delete(id); views[id]().catch(() => stale.add(id)); }
  }
  // At once after a quiet second, then at most once a second while events come; and once
  // more a second after the last (the read it caused may have beaten the invoke's data).
  function soon() {
    for (const id of Object.keys(views)) stale.add(id);
    if (!timer) {
      const wait = Math.max(0, last + EVERY_MS - Date.now());
      last = Date.now() + wait;
      timer = setTimeout(readStale, wait);
    }
    clearTimeout(confirming);
    confirming = setTimeout(() => { for (const id of Object.keys(views)) stale.add(id); if (!timer) readStale(); }, EVERY_MS);
  }
  const watcher = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) { seen.add(entry.target.id); if (stale.has(entry.target.id) && !timer) timer = setTimeout(readStale, 0); }
      else seen.delete(entry.target.id);
    }
  }, { rootMargin: "200px" });
  for (const id of Object.keys(views)) { stale.add(id); const node = $(id); if (node) watcher.observe(node); }
  // "concurrency" comes with an invoke's data points (the same hook CloudWatch records them in)
  const CHANGES = new Set(["concurrency", "throttle", "clock", "resync", "functions", "hello"]);
  document.addEventListener("lambdalab-console", (event) => {
    const { kind, data } = event.detail;
    if (!CHANGES.has(kind)) return;
    if (kind === "concurrency" && changed !== null) changed.add(data.function_name);
    else if (kind === "throttle" && changed !== null) changed.add(data.function);
    else changed = null;
    soon();
  });

  return { svg };
})();
