// lambdalab console: draws the lab's state, then applies the events the server pushes.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const lanes = new Map();        // environment -> lane record (as /api/state gives it)
  let functions = [], throttles = {}, refreshing = null;

  const iso = (epoch) => new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
  const ms = (value) => (Math.round(value * 10) / 10).toString();
  // Width in px grows with the log of the duration, so 1 ms and 1 s both stay visible.
  const width = (durationMs) => Math.round(10 + 14 * Math.log10(1 + durationMs));

  function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }

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
      cell(row, f.aliases.map((a) => a.name + " → " + a.version + Object.entries(a.weights)
        .map(([v, w]) => " (" + v + ": " + Math.round(w * 100) + "%)").join("")).join("; ") || "none");
      cell(row, String(throttles[f.name] || 0)).className = "throttles";
      body.appendChild(row);
    }
  }

  function step(className, text, label) {
    const li = document.createElement("li");
    li.className = className; li.textContent = text; li.tabIndex = 0;
    li.setAttribute("aria-label", label); li.title = label;
    return li;
  }

  function invokeStep(invoke) {
    const li = step("invoke " + invoke.outcome, ms(invoke.duration_ms),
      "Invoke " + invoke.request_id + ": " + ms(invoke.duration_ms) + " ms, billed " + invoke.billed_ms +
      " ms, " + invoke.max_memory_used_mb + " MB used, " + invoke.outcome + ", at " + iso(invoke.at));
    li.dataset.requestId = invoke.request_id;
    li.style.width = width(invoke.duration_ms) + "px";
    return li;
  }

  function drawLane(lane) {
    const li = document.createElement("li");
    li.className = "lane"; li.dataset.environment = lane.environment;
    const name = document.createElement("span"); name.className = "lane-name";
    name.textContent = lane.function_name + ":" + lane.version + " · started " + iso(lane.started_at);
    const steps = document.createElement("ol"); steps.className = "steps";
    steps.setAttribute("aria-label", "Environment " + lane.environment);
    const init = step("init", "INIT " + ms(lane.init_duration_ms) + " ms",
      "INIT (cold start) of " + lane.function_name + ": " + ms(lane.init_duration_ms) + " ms");
    init.style.width = Math.max(width(lane.init_duration_ms), 90) + "px";
    steps.appendChild(init);
    for (const invoke of lane.invokes) steps.appendChild(invokeStep(invoke));
    const ended = document.createElement("span"); ended.className = "ended";
    ended.textContent = lane.ended || "";
    li.append(name, steps, ended);
    return li;
  }

  function numbersRow(lane) {
    const row = document.createElement("tr");
    cell(row, lane.environment); cell(row, lane.function_name); cell(row, lane.version);
    cell(row, iso(lane.started_at)); cell(row, ms(lane.init_duration_ms)); cell(row, String(lane.invocations));
    cell(row, lane.invokes.map((i) => ms(i.duration_ms)).join(", ")); cell(row, lane.ended || "");
    return row;
  }

  function drawLanes() {
    $("lanes").replaceChildren(...[...lanes.values()].map(drawLane));
    $("lane-numbers").tBodies[0].replaceChildren(...[...lanes.values()].map(numbersRow));
  }

  // Plugins' panels: a heading and a table each, built from text only.
  function drawPanels(panels) {
    $("panels").replaceChildren(...panels.map((panel, n) => {
      const section = document.createElement("section");
      section.className = "panel"; section.setAttribute("aria-labelledby", "panel-" + n);
      const heading = document.createElement("h2"); heading.id = "panel-" + n; heading.textContent = panel.title;
      section.appendChild(heading);
      if (panel.error) {
        const p = document.createElement("p"); p.className = "ended"; p.textContent = panel.error;
        section.appendChild(p);
      }
      const columns = panel.rows.length ? Object.keys(panel.rows[0]) : [];
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const column of columns) { const th = document.createElement("th"); th.scope = "col"; th.textContent = column; head.appendChild(th); }
      const body = table.createTBody();
      for (const row of panel.rows) {
        const tr = body.insertRow();
        for (const column of columns) cell(tr, row[column] === null || row[column] === undefined ? "" : String(row[column]));
      }
      section.appendChild(table);
      return section;
    }));
  }

  function drawClock(now, virtual) {
    $("clock").textContent = iso(now);
    if (virtual !== undefined) {
      $("clock-kind").textContent = virtual ? "(virtual: it moves when advanced)" : "(real time)";
      $("advance").hidden = !virtual;
    }
  }

  async function refresh() {
    const response = await fetch("api/state", { cache: "no-store" });
    if (!response.ok) { $("status").textContent = "Cannot read the lab (" + response.status + ")."; return; }
    const state = await response.json();
    functions = state.functions; throttles = state.throttles;
    lanes.clear();
    for (const lane of state.lanes) lanes.set(lane.environment, lane);
    $("region").textContent = "(" + state.region + ")";
    drawClock(state.now, state.virtual_clock); drawFunctions(); drawLanes(); drawPanels(state.panels);
  }

  // At most one refresh in flight, and one more queued behind it.
  function refreshSoon() {
    if (refreshing) { refreshing.again = true; return; }
    refreshing = { again: false };
    refresh().finally(() => { const again = refreshing.again; refreshing = null; if (again) refreshSoon(); });
  }

  const handlers = {
    environment(data) { lanes.set(data.environment, data); drawLanes(); },
    invoke(data) {
      const lane = lanes.get(data.environment);
      if (!lane) return refreshSoon();
      lane.invokes.push(data.invoke); lane.invocations = data.invocations; lane.ended = data.ended;
      drawLanes();
    },
    stopped(data) {
      const lane = lanes.get(data.environment);
      if (lane) { lane.ended = data.ended; drawLanes(); }
    },
    throttle(data) { throttles[data.function] = data.count; drawFunctions(); },
    functions() { refreshSoon(); },
    resync() { refreshSoon(); },
    clock() {},
    hello() {},
  };

  function connect() {
    const source = new EventSource("api/events");
    source.onopen = () => { $("status").textContent = "Live."; refreshSoon(); };
    source.onerror = () => { $("status").textContent = "Reconnecting…"; };
    for (const [kind, handle] of Object.entries(handlers)) {
      source.addEventListener(kind, (event) => {
        const data = JSON.parse(event.data);
        if (data.now !== undefined) drawClock(data.now);
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

  $("show-numbers").addEventListener("click", () => {
    const table = $("lane-numbers"), button = $("show-numbers");
    table.hidden = !table.hidden;
    button.setAttribute("aria-expanded", String(!table.hidden));
    button.textContent = table.hidden ? "Show the numbers" : "Hide the numbers";
  });

  connect();
})();
