// lambdalab console: draws the lab's state, then applies the events the server pushes.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  // As lambdalab_console.bounds keeps them on the server.
  const LANES_KEPT = 200, INVOKES_PER_LANE = 100, INVOKES_LISTED = 100, CONCURRENCY_SAMPLES_KEPT = 600;
  // Plugins' panels are read again at most this often while the lab is busy.
  const PANELS_EVERY_MS = 1000;
  const lanes = new Map();        // environment -> lane record (as /api/state gives it)
  const laneItems = new Map();    // environment -> its <li>
  let functions = [], throttles = {}, invokes = [], samples = [], accountLimit = null;
  let queue = [], ended = [], now = 0;
  let refreshing = null, queueing = null, chosen = null, panelsTimer = null, logsTimer = null;
  // Events that came while a state read was in flight: applied after it, unless it has
  // them already (each invoke, sample and throttle is numbered; the state says up to where).
  let pending = null;
  const PENDING_MAX = 5000;
  const dirty = new Set();        // views to draw at the next frame

  const iso = (epoch) => new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
  const ms = (value) => (Math.round(value * 10) / 10).toString();
  // Width in px grows with the log of the duration, so 1 ms and 1 s both stay visible.
  const width = (durationMs) => Math.round(10 + 14 * Math.log10(1 + durationMs));

  function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Many events may come in one frame (a burst): each view is drawn once per frame.
  function redraw(...views) {
    if (!dirty.size) requestAnimationFrame(drawDirty);
    for (const view of views) dirty.add(view);
  }
  function drawDirty() {
    const views = [...dirty]; dirty.clear();
    for (const view of views) ({ functions: drawFunctions, lanes: drawLanes, numbers: drawLaneNumbers,
      invokes: drawInvokes, concurrency: drawConcurrency, queue: drawQueue })[view]();
  }

  function drawFunctions() {
    const body = $("functions").tBodies[0];
    body.replaceChildren();
    for (const f of functions) {
      const row = document.createElement("tr");
      row.dataset.function = f.name;
      const name = document.createElement("th"); name.scope = "row"; name.textContent = f.name; row.appendChild(name);
      cell(row, f.state); cell(row, f.runtime); cell(row, String(f.memory)); cell(row, f.sandbox);
      cell(row, f.reserved === null ? "unreserved" : String(f.reserved));
      cell(row, f.versions.join(", ") || "none");
      const aliases = cell(row, f.aliases.length ? "" : "none");
      for (const alias of f.aliases) aliases.appendChild(weightsBar(alias));
      const triggers = cell(row, f.triggers.length ? "" : "none"); triggers.className = "triggers";
      for (const trigger of f.triggers) triggers.appendChild(element("div", "", trigger));
      cell(row, String(throttles[f.name] || 0)).className = "throttles";
      body.appendChild(row);
    }
    for (const select of document.querySelectorAll("select.function-choice")) {
      const picked = select.value;
      select.replaceChildren(...functions.map((f) => { const o = element("option", "", f.name); o.value = f.name; return o; }));
      if (functions.some((f) => f.name === picked)) select.value = picked;
    }
  }

  // An alias drawn as a bar: its version's share of invokes, and the second version's.
  function weightsBar(alias) {
    const shares = [[alias.version, 1 - Object.values(alias.weights).reduce((a, b) => a + b, 0)],
      ...Object.entries(alias.weights)];
    const words = shares.map(([v, w]) => Math.round(w * 100) + "% to version " + v).join(", ");
    const bar = element("span", "alias"); bar.dataset.alias = alias.name;
    bar.setAttribute("role", "img"); bar.setAttribute("aria-label", "Alias " + alias.name + ": " + words);
    bar.title = alias.name + ": " + words;
    bar.appendChild(element("span", "alias-name", alias.name));
    const track = element("span", "weights");
    shares.forEach(([v, w], k) => {
      const part = element("span", "share s" + k, v + " " + Math.round(w * 100) + "%");
      part.style.flexGrow = String(Math.max(w, 0.001)); part.dataset.version = v;
      track.appendChild(part);
    });
    bar.appendChild(track);
    return bar;
  }

  function step(className, text, label) {
    const li = element("li", className, text);
    li.tabIndex = 0; li.setAttribute("aria-label", label); li.title = label;
    return li;
  }

  function invokeLabel(invoke) {
    return "Invoke " + invoke.request_id + ": " + ms(invoke.duration_ms) + " ms, billed " + invoke.billed_ms +
      " ms, " + invoke.max_memory_used_mb + " MB used, " + invoke.outcome + ", at " + iso(invoke.at);
  }

  function invokeStep(invoke) {
    const li = step("invoke " + invoke.outcome, ms(invoke.duration_ms), invokeLabel(invoke));
    li.dataset.requestId = invoke.request_id; li.dataset.n = invoke.n;
    li.setAttribute("role", "button");
    li.style.width = width(invoke.duration_ms) + "px";
    return li;
  }

  function drawLane(lane) {
    const li = element("li", "lane"); li.dataset.environment = lane.environment;
    const name = element("span", "lane-name",
      lane.function_name + ":" + lane.version + " · started " + iso(lane.started_at));
    const steps = element("ol", "steps");
    steps.setAttribute("aria-label", "Environment " + lane.environment);
    const init = step("init", "INIT " + ms(lane.init_duration_ms) + " ms",
      "INIT (cold start) of " + lane.function_name + ": " + ms(lane.init_duration_ms) + " ms");
    init.style.width = Math.max(width(lane.init_duration_ms), 90) + "px";
    steps.appendChild(init);
    for (const invoke of lane.invokes) steps.appendChild(invokeStep(invoke));
    li.append(name, steps, element("span", "ended", lane.ended || ""));
    laneItems.set(lane.environment, li);
    return li;
  }

  // One invoke more on a lane already drawn: appended, not the whole timeline again.
  function addToLane(lane, invoke) {
    const li = laneItems.get(lane.environment);
    if (!li || !li.isConnected) return redraw("lanes");
    const steps = li.querySelector(".steps");
    steps.appendChild(invokeStep(invoke));
    while (steps.children.length > INVOKES_PER_LANE + 1) steps.children[1].remove();
    li.querySelector(".ended").textContent = lane.ended || "";
  }

  function numbersRow(lane) {
    const row = document.createElement("tr");
    cell(row, lane.environment); cell(row, lane.function_name); cell(row, lane.version);
    cell(row, iso(lane.started_at)); cell(row, ms(lane.init_duration_ms)); cell(row, String(lane.invocations));
    cell(row, lane.invokes.map((i) => ms(i.duration_ms)).join(", ")); cell(row, lane.ended || "");
    return row;
  }

  function drawLanes() {
    laneItems.clear();
    $("lanes").replaceChildren(...[...lanes.values()].map(drawLane));
    drawLaneNumbers();
  }
  function drawLaneNumbers() {
    if ($("lane-numbers").hidden) return;  // drawn when opened
    $("lane-numbers").tBodies[0].replaceChildren(...[...lanes.values()].map(numbersRow));
  }

  // -- the invoke list and one invoke's details --------------------------------------

  function drawInvokes() {
    const body = $("invokes").tBodies[0];
    body.replaceChildren(...invokes.slice().reverse().map((invoke) => {
      const row = document.createElement("tr");
      row.dataset.n = invoke.n;
      const first = document.createElement("td");
      const open = element("button", "open-invoke", invoke.request_id);
      open.type = "button"; open.dataset.n = invoke.n;
      open.setAttribute("aria-label", "Show invoke " + invoke.request_id);
      first.appendChild(open); row.appendChild(first);
      cell(row, invoke.function_name + ":" + invoke.version); cell(row, iso(invoke.at));
      cell(row, invoke.cold ? "cold" : "warm"); cell(row, ms(invoke.duration_ms));
      cell(row, invoke.outcome).className = "outcome " + invoke.outcome;
      if (chosen === invoke.n) row.className = "chosen";
      return row;
    }));
  }

  function figure(list, term, value) {
    list.append(element("dt", "", term), element("dd", "", value));
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  function cut(text, bytes, kept) { return bytes > kept ? text + "\n… (" + bytes + " bytes in all; the console keeps the first " + kept + ")" : text; }

  async function openInvoke(n) {
    chosen = n; redraw("invokes");
    const view = $("invoke-detail");
    const response = await fetch("api/invokes/" + n, { cache: "no-store" });
    const detail = await response.json();
    view.hidden = false;
    if (!response.ok) {
      $("detail-heading").textContent = "Invoke";
      $("detail-figures").replaceChildren(element("p", "ended", detail.message));
      for (const id of ["detail-event", "detail-result", "detail-logs"]) $(id).textContent = "";
      return view.focus();
    }
    const mark = detail.mark;
    $("detail-heading").textContent = "Invoke " + mark.request_id;
    const list = $("detail-figures"); list.replaceChildren();
    figure(list, "Function", mark.function_name + ":" + mark.version + " (" + detail.invoked_arn + ")");
    figure(list, "Start", mark.cold ? "cold: INIT " + ms(detail.init_duration_ms) + " ms, a new environment" : "warm: a reused environment");
    figure(list, "Environment", detail.environment);
    figure(list, "Duration", ms(mark.duration_ms) + " ms");
    figure(list, "Billed duration", mark.billed_ms + " ms");
    figure(list, "Memory", mark.max_memory_used_mb + " MB used of " + detail.memory_size + " MB");
    figure(list, "Outcome", mark.outcome + (detail.error_type ? " (" + detail.error_type + ")" : ""));
    figure(list, "Ended (lab clock)", iso(mark.at));
    $("detail-event").textContent = cut(pretty(detail.event), detail.event_bytes, detail.event.length);
    $("detail-result-heading").textContent = mark.outcome === "ok" ? "Result" : "Error";
    $("detail-result").textContent = cut(pretty(detail.result), detail.result_bytes, detail.result.length);
    $("detail-logs").textContent = detail.logs.map((line) => line.replace(/\n$/, "")).join("\n") + (detail.logs_cut ? "\n… (more lines: see lambdalab logs)" : "");
    view.focus();
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-n].invoke, button.open-invoke");
    if (target) openInvoke(Number(target.dataset.n));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches && event.target.matches("li.invoke[data-n]"))
      openInvoke(Number(event.target.dataset.n));
  });

  // -- concurrency over time ------------------------------------------------------------

  const svg = window.LambdalabGraphs.svg;  // graphs.js: the drawing helpers, shared

  // Concurrent executions as each invoke ended (x: the samples in order, y: executions):
  // the account's line, each reserved function's line and its reserved limit, throttles marked.
  function drawConcurrency() {
    const chart = $("concurrency-chart");
    const W = 760, H = 180, left = 40, top = 10, bottom = 20;
    const reserved = functions.filter((f) => f.reserved !== null);
    let ceiling = 1;
    for (const s of samples) ceiling = Math.max(ceiling, s.account || 0, s.count || 0);
    for (const f of reserved) ceiling = Math.max(ceiling, f.reserved);
    ceiling = Math.ceil(ceiling * 1.2);
    const x = (i) => left + (samples.length < 2 ? 0 : (i * (W - left - 10)) / (samples.length - 1));
    const y = (v) => top + (H - top - bottom) * (1 - v / ceiling);
    const nodes = [svg("line", { x1: left, y1: y(0), x2: W - 10, y2: y(0), class: "axis" }),
      svg("text", { x: 4, y: y(0) + 4, class: "tick" }), svg("text", { x: 4, y: y(ceiling) + 10, class: "tick" })];
    nodes[1].textContent = "0"; nodes[2].textContent = String(ceiling);
    const line = (points, className, label, data) => {
      if (!points.length) return;
      const node = svg("polyline", { points: points.join(" "), class: className }, label);
      Object.assign(node.dataset, data); nodes.push(node);
    };
    line(samples.map((s, i) => (s.account === null ? null : x(i) + "," + y(s.account))).filter(Boolean),
      "account", "Concurrent executions in the account", {});
    reserved.forEach((f, k) => {
      const own = samples.map((s, i) => (s.function_name === f.name && s.count !== null ? x(i) + "," + y(s.count) : null)).filter(Boolean);
      line(own, "function c" + (k % 4), f.name + "'s concurrent executions", { function: f.name });
      const limit = svg("line", { x1: left, y1: y(f.reserved), x2: W - 10, y2: y(f.reserved), class: "limit-line c" + (k % 4) },
        f.name + ": reserved concurrency " + f.reserved);
      limit.dataset.function = f.name; nodes.push(limit);
    });
    samples.forEach((s, i) => {
      if (!s.throttle) return;
      const mark = svg("path", { d: `M${x(i)},${y(0) + 8}l-4,8h8z`, class: "throttle-mark" },
        "Throttled: " + s.function_name + " at " + iso(s.at));
      mark.dataset.function = s.function_name; nodes.push(mark);
    });
    chart.setAttribute("viewBox", `0 0 ${W} ${H + 12}`);
    chart.replaceChildren(...nodes);
    const throttled = samples.filter((s) => s.throttle).length;
    const peak = Math.max(0, ...samples.map((s) => s.account || 0));
    $("concurrency-summary").textContent = samples.length
      ? `Over the last ${samples.length} samples: at most ${peak} concurrent executions in the account ` +
        `(its limit: ${accountLimit}), ${throttled} throttled.` : "No invokes yet.";
    if (!$("concurrency-numbers").hidden) {
      $("concurrency-numbers").tBodies[0].replaceChildren(...samples.map((s) => {
        const row = document.createElement("tr");
        cell(row, iso(s.at)); cell(row, s.function_name);
        cell(row, s.throttle ? "throttled" : String(s.count)); cell(row, s.account === null ? "" : String(s.account));
        return row;
      }));
    }
  }

  // -- the async queue ---------------------------------------------------------------

  function drawQueue() {
    $("queue").tBodies[0].replaceChildren(...queue.map((event) => {
      const row = document.createElement("tr");
      row.dataset.requestId = event.request_id;
      cell(row, event.request_id); cell(row, event.function_name + (event.qualifier ? ":" + event.qualifier : ""));
      cell(row, event.state).className = "state"; cell(row, String(event.attempts)).className = "attempts";
      cell(row, iso(event.enqueued_at));
      const wait = event.next_attempt_at - now;
      cell(row, event.state === "retrying" ? iso(event.next_attempt_at) + " (in " + Math.round(wait) + " s)" : "now")
        .className = "next-attempt";
      return row;
    }));
    $("queue-ended").tBodies[0].replaceChildren(...ended.slice().reverse().map((event) => {
      const row = document.createElement("tr");
      row.dataset.requestId = event.request_id;
      cell(row, event.request_id); cell(row, event.function_name + (event.qualifier ? ":" + event.qualifier : ""));
      cell(row, event.condition).className = "condition " + event.condition;
      cell(row, String(event.attempts)); cell(row, event.sent_to.join(", ") || "nowhere (dropped)");
      cell(row, iso(event.at));
      return row;
    }));
  }

  async function readQueue() {
    const response = await fetch("api/queue", { cache: "no-store" });
    if (!response.ok) return;
    const answer = await response.json();
    queue = answer.queue; ended = answer.async_ended; now = answer.now;
    redraw("queue");
  }

  // Like refreshSoon: one read in flight, one more behind it.
  function queueSoon() {
    if (queueing) { queueing.again = true; return; }
    queueing = { again: false };
    readQueue().finally(() => { const again = queueing.again; queueing = null; if (again) queueSoon(); });
  }

  // -- state and events ---------------------------------------------------------------

  function drawPanels(panels) {
    $("panels").replaceChildren(...panels.map(drawPanel));
  }

  function drawPanel(panel, n) {
    const section = element("section", "panel"); section.setAttribute("aria-labelledby", "panel-" + n);
    section.dataset.title = panel.title;
    const heading = element("h2", "", panel.title); heading.id = "panel-" + n;
    section.appendChild(heading);
    if (panel.error) section.appendChild(element("p", "ended", panel.error));
    const columns = panel.rows.length ? Object.keys(panel.rows[0]) : [];
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const column of columns) { const th = element("th", "", column); th.scope = "col"; head.appendChild(th); }
    const body = table.createTBody();
    for (const row of panel.rows) {
      const tr = body.insertRow();
      for (const column of columns) cell(tr, row[column] === null || row[column] === undefined ? "" : String(row[column]));
    }
    section.appendChild(table);
    return section;
  }

  // A plugin said its panel changed: read that panel only, and put it in its place.
  async function readPanel(title) {
    const response = await fetch("api/panels?" + new URLSearchParams({ title }), { cache: "no-store" });
    if (!response.ok) return;
    const sections = [...$("panels").children];
    const old = sections.find((section) => section.dataset.title === title);
    const [panel] = (await response.json()).panels;
    if (!panel) return old && old.remove();
    if (!old) return panelsSoon();  // a panel new to the page: read them all, in order
    old.replaceWith(drawPanel(panel, sections.indexOf(old)));
  }

  // After what may change a panel (an invoke, a throttle, the queue, the clock): read the
  // panels again, once for all that happens within PANELS_EVERY_MS.
  function panelsSoon() {
    if (panelsTimer) return;
    panelsTimer = setTimeout(async () => {
      try {
        const response = await fetch("api/panels", { cache: "no-store" });
        if (response.ok) drawPanels((await response.json()).panels);
      } finally { panelsTimer = null; }
    }, PANELS_EVERY_MS);
  }

  // The log tail: read again after invokes, at most once a second, and on a new filter.
  async function readLogs() {
    const response = await fetch("api/logs?" + new URLSearchParams({ filter: $("log-filter").value }), { cache: "no-store" });
    const answer = await response.json();
    if (!response.ok) { $("log-error").textContent = answer.message; return; }
    $("log-error").textContent = "";
    $("log-tail").textContent = answer.events.map((e) =>
      iso(e.timestamp / 1000) + "  " + e.group.slice("/aws/lambda/".length) + "  " + e.message).join("\n");
  }
  function logsSoon() {
    if (logsTimer) return;
    logsTimer = setTimeout(() => readLogs().finally(() => { logsTimer = null; }), PANELS_EVERY_MS);
  }
  $("log-filter-form").addEventListener("submit", (event) => { event.preventDefault(); readLogs(); });

  function drawClock(now, virtual) {
    $("clock").textContent = iso(now);
    if (virtual !== undefined) {
      $("clock-kind").textContent = virtual ? "(virtual: it moves when advanced)" : "(real time)";
      $("advance").hidden = !virtual;
    }
  }

  async function refresh() {
    pending = [];
    let state;
    try {
      const response = await fetch("api/state", { cache: "no-store" });
      if (!response.ok) { $("status").textContent = "Cannot read the lab (" + response.status + ")."; return; }
      state = await response.json();
    } finally { if (!state) pending = null; }
    functions = state.functions; throttles = state.throttles; invokes = state.invokes;
    samples = state.concurrency; accountLimit = state.account_limit;
    queue = state.queue; ended = state.async_ended; now = state.now;
    lanes.clear();
    for (const lane of state.lanes) lanes.set(lane.environment, lane);
    $("region").textContent = "(" + state.region + ")";
    drawClock(state.now, state.virtual_clock); drawPanels(state.panels); logsSoon();
    redraw("functions", "lanes", "invokes", "concurrency", "queue");
    const missed = pending; pending = null;
    if (missed === null) return refreshSoon();  // too many came meanwhile: read again
    for (const [kind, data] of missed) {
      const n = data.invoke ? data.invoke.n : data.n;
      if (n === undefined || n > state.n) handlers[kind](data);
    }
  }

  // At most one refresh in flight, and one more queued behind it.
  function refreshSoon() {
    if (refreshing) { refreshing.again = true; return; }
    refreshing = { again: false };
    refresh().finally(() => { const again = refreshing.again; refreshing = null; if (again) refreshSoon(); });
  }

  function keep(list, item, most) { list.push(item); if (list.length > most) list.splice(0, list.length - most); }

  const handlers = {
    environment(data) {
      if (lanes.has(data.environment)) return;  // a state read already brought it
      lanes.set(data.environment, data);
      while (lanes.size > LANES_KEPT) lanes.delete(lanes.keys().next().value);  // as the server does
      redraw("lanes");
    },
    invoke(data) {
      keep(invokes, data.invoke, INVOKES_LISTED); redraw("invokes"); panelsSoon(); logsSoon();
      if (data.invocations === null) return;  // a lane the server no longer keeps
      const lane = lanes.get(data.environment);
      if (!lane) return refreshSoon();
      keep(lane.invokes, data.invoke, INVOKES_PER_LANE);
      lane.invocations = data.invocations; lane.ended = data.ended;
      if (dirty.has("lanes")) return;
      addToLane(lane, data.invoke); redraw("numbers");
    },
    stopped(data) {
      const lane = lanes.get(data.environment);
      if (lane) { lane.ended = data.ended; redraw("lanes"); }
    },
    throttle(data) { throttles[data.function] = data.count; redraw("functions"); panelsSoon(); },
    concurrency(data) { keep(samples, data, CONCURRENCY_SAMPLES_KEPT); redraw("concurrency"); },
    functions() { refreshSoon(); },
    resync() { refreshSoon(); },
    clock() { queueSoon(); panelsSoon(); },
    queue() { queueSoon(); panelsSoon(); },
    panel(data) { readPanel(data.title); },
    hello() {},
  };

  function connect() {
    const source = new EventSource("api/events");
    source.onopen = () => { $("status").textContent = "Live."; refreshSoon(); };
    source.onerror = () => { $("status").textContent = "Reconnecting…"; };
    for (const [kind, handle] of Object.entries(handlers)) {
      source.addEventListener(kind, (event) => {
        const data = JSON.parse(event.data);
        document.dispatchEvent(new CustomEvent("lambdalab-console", { detail: { kind, data } }));  // for graphs.js
        if (data.now !== undefined) { now = data.now; drawClock(data.now); }
        if (pending && !["functions", "resync", "hello"].includes(kind)) {
          pending.push([kind, data]);
          if (pending.length > PENDING_MAX) pending = null;  // read the state again instead
          return;
        }
        handle(data);
      });
    }
  }

  $("advance").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("advance-error").textContent = "";
    const seconds = Number($("advance-seconds").value);
    const response = await fetch("api/clock", {
      method: "POST", headers: { "Content-Type": "application/json", "X-Lambdalab-Console": "1" },
      body: JSON.stringify({ seconds }),
    });
    const answer = await response.json();
    if (!response.ok) { $("advance-error").textContent = answer.message; return; }
    drawClock(answer.now);
  });

  // -- marked actions: each posts to api/actions/… and shows the answer or AWS's error ---

  async function act(path, body, answerId, describe) {
    const out = $(answerId);
    out.className = ""; out.textContent = "…";
    const response = await fetch("api/actions/" + path, {
      method: "POST", headers: { "Content-Type": "application/json", "X-Lambdalab-Console": "1" }, body,
    });
    const answer = await response.json();
    if (!response.ok) { out.className = "refused"; out.textContent = (answer.type ? answer.type + ": " : "") + answer.message; return; }
    out.textContent = describe(answer);
  }

  $("invoke-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams({ function: $("invoke-function").value });
    if ($("invoke-qualifier").value) query.set("qualifier", $("invoke-qualifier").value);
    act("invoke?" + query, $("invoke-event").value, "invoke-answer", (a) =>
      "Request " + a.request_id + " ran version " + a.executed_version +
      (a.function_error ? ", function error (" + a.function_error + "): " : ", returned: ") + a.payload);
  });
  $("publish-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { function: $("publish-function").value };
    if ($("publish-description").value) body.description = $("publish-description").value;
    act("publish", JSON.stringify(body), "publish-answer", (a) => "Published version " + a.version + ".");
  });
  $("alias-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { function: $("alias-function").value, alias: $("alias-name").value,
      version: $("alias-version").value, weight: Number($("alias-weight").value) / 100 };
    if ($("alias-additional").value) body.additional_version = $("alias-additional").value;
    act("alias", JSON.stringify(body), "alias-answer", (a) => "Alias " + a.alias + " → version " + a.version +
      Object.entries(a.weights).map(([v, w]) => ", " + Math.round(w * 100) + "% to version " + v).join("") + ".");
  });

  // "Show the numbers": the text alternative of a drawing, one table each.
  function toggle(buttonId, tableId, draw) {
    $(buttonId).addEventListener("click", () => {
      const table = $(tableId), button = $(buttonId);
      table.hidden = !table.hidden;
      button.setAttribute("aria-expanded", String(!table.hidden));
      button.textContent = table.hidden ? "Show the numbers" : "Hide the numbers";
      draw();
    });
  }
  toggle("show-numbers", "lane-numbers", drawLaneNumbers);
  toggle("show-concurrency-numbers", "concurrency-numbers", drawConcurrency);

  connect();
})();
