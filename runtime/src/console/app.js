// The journey console: plain JavaScript over the server's API (the same calls, the same
// bearer token). It polls the selected journey's report once a second.

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const SVG = "http://www.w3.org/2000/svg";
const started = performance.now();

const state = {
  token: sessionStorage.getItem("journey-token") || "",
  journeys: [],
  selected: null,
  version: null, // the version whose canvas is drawn
  report: null,
  timer: null,
  profile: null, // the instance whose path is drawn
};

/** A request to the API; a 401 shows the login. */
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  if (resp.status === 401) {
    showLogin(state.token ? "That token is not the server's." : "");
    throw new Error("unauthorized");
  }
  return resp;
}

async function json(path, options) {
  const resp = await api(path, options);
  const body = await resp.json().catch(() => null);
  if (!resp.ok) throw new Error((body && body.error) || `${path} answered ${resp.status}`);
  return body;
}

function showLogin(message) {
  stopPolling();
  $("#app").hidden = true;
  $("#search").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#token").focus();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

const fmt = (n) => (n ?? 0).toLocaleString("en");
const pct = (x) => (x == null ? "-" : `${(x * 100).toFixed(1)}%`);
const ci = (i) => (i ? `${(i.low * 100).toFixed(1)} to ${(i.high * 100).toFixed(1)}` : "-");
const pText = (p) => (p == null ? "-" : p < 0.001 ? "p < 0.001" : `p = ${p.toFixed(3)}`);

// ---------------------------------------------------------------------------------------------
// Journeys

function midnight() {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  return d.toISOString().replace(".000Z", "Z");
}

async function loadJourneys() {
  const list = await json("/journeys");
  const since = midnight();
  state.journeys = await Promise.all(
    list.map(async (j) => {
      const latest = j.versions[j.versions.length - 1];
      let today = 0;
      try {
        const r = await json(`/journeys/${encodeURIComponent(j.name)}/report?since=${since}`);
        for (const v of r.versions) today += v.report.window.started || 0;
      } catch (e) {
        if (e.message === "unauthorized") throw e;
      }
      return { name: j.name, version: latest.version, versions: j.versions.map((v) => v.version), status: latest.status || (latest.open ? "live" : "closed"), today };
    }),
  );
  const body = $("#journeys tbody");
  body.replaceChildren(
    ...state.journeys.map((j) => {
      const link = el("a", { href: `#${encodeURIComponent(j.name)}`, text: j.name });
      const row = el(
        "tr",
        { "data-journey": j.name, "aria-selected": String(j.name === state.selected) },
        el("td", {}, link),
        el("td", { class: "num", text: String(j.version) }),
        el("td", { class: "status", text: j.status }),
        el("td", { class: "num today", text: fmt(j.today) }),
      );
      row.addEventListener("click", (ev) => {
        ev.preventDefault();
        select(j.name);
      });
      return row;
    }),
  );
}

/** Shows a journey: the canvas of `version` as it was published (its latest when absent). */
async function select(name, version) {
  if (!name) return;
  const info = state.journeys.find((j) => j.name === name);
  const versions = info ? info.versions : [];
  version = versions.includes(version) ? version : versions[versions.length - 1];
  state.selected = name;
  state.version = version ?? null;
  history.replaceState(null, "", `#${encodeURIComponent(name)}`);
  $$("#journeys tbody tr").forEach((r) => r.setAttribute("aria-selected", String(r.dataset.journey === name)));
  $("#journey-title").textContent = name;
  $("#actions").hidden = false;
  $("#node-detail").hidden = true;
  $("#journey-status").textContent = info ? `version ${info.version} · ${info.status}` : "";
  const pick = $("#version");
  pick.replaceChildren(...versions.map((v) => el("option", { value: String(v), text: `version ${v}` })));
  pick.value = String(version);
  $("#version-pick").hidden = versions.length < 2;
  const query = version == null ? "" : `?version=${version}`;
  const resp = await api(`/journeys/${encodeURIComponent(name)}/graph.svg${query}`);
  if (name !== state.selected || state.version !== (version ?? null)) return;
  $("#canvas").innerHTML = resp.ok ? await resp.text() : `<p class="error">${resp.status}: no drawing</p>`;
  $("#canvas").dataset.version = String(version);
  prepareCanvas();
  await refresh();
  startPolling();
}

// ---------------------------------------------------------------------------------------------
// The canvas and its live counts

function prepareCanvas() {
  const svg = $("#canvas svg");
  if (!svg) return;
  svg.setAttribute("role", "group");
  for (const g of $$("g.node", svg)) {
    const title = $("title", g)?.textContent || "node";
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    g.dataset.title = title;
    g.setAttribute("aria-label", title);
    const open = () => showNode(g);
    g.addEventListener("click", open);
    g.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        open();
      }
    });
  }
}

/** The report's entry for the version drawn (the latest when it has none). */
function shownVersion(report) {
  return report.versions.find((v) => v.version === state.version) || report.versions[report.versions.length - 1];
}

/** Each node id's counts: on the latest version's canvas, summed over the versions whose node has
 * the same label; on an older version's, that version's own. */
function nodeCounts(report) {
  const older = report.versions.find((v) => v.version === state.version && v !== report.versions[report.versions.length - 1]);
  const versions = older ? [older] : report.versions;
  const latest = versions[versions.length - 1].report;
  return latest.nodes.map((n, i) => {
    const sum = { ...n, arms: n.arms && { ...n.arms }, handlers: n.handlers && { ...n.handlers },
      goals: n.goals && { ...n.goals }, window: { entered: 0 } };
    for (const k of ["entered", "passed", "exited", "failed"]) sum[k] = 0;
    for (const v of versions) {
      const m = v.report.nodes[i];
      if (!m || m.label !== n.label) continue;
      for (const k of ["entered", "passed", "exited", "failed"]) sum[k] += m[k];
      for (const f of ["arms", "handlers", "goals"]) {
        if (m[f] && sum[f]) for (const [a, c] of Object.entries(m[f])) if (v !== versions[versions.length - 1]) sum[f][a] = (sum[f][a] || 0) + c;
      }
      const w = v.report.window.nodes && v.report.window.nodes[i];
      if (w) sum.window.entered += w.entered;
    }
    sum.waiting = sum.entered - sum.passed - sum.exited - sum.failed;
    return sum;
  });
}

function badge(g, text) {
  let b = $("g.badge", g);
  const shape = $("rect, polygon", g);
  const box = shape.getBBox();
  if (!b) {
    b = document.createElementNS(SVG, "g");
    b.setAttribute("class", "badge");
    b.setAttribute("aria-hidden", "true");
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("class", "count-bg");
    r.setAttribute("rx", "8");
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("class", "count");
    b.append(r, t);
    g.append(b);
  }
  const t = $("text", b);
  t.textContent = text;
  const w = Math.max(18, text.length * 6.6 + 8);
  const x = box.x + box.width - w + 6;
  const y = box.y - 9;
  const r = $("rect", b);
  r.setAttribute("x", x);
  r.setAttribute("y", y);
  r.setAttribute("width", w);
  r.setAttribute("height", 16);
  t.setAttribute("x", x + w / 2);
  t.setAttribute("y", y + 12);
  t.setAttribute("text-anchor", "middle");
}

/** A count beside an edge: under its label when it has one, else along its line. */
function edgeCount(path, text) {
  const svg = path.ownerSVGElement;
  const key = path.dataset.edge;
  let t = svg.querySelector(`text.edge-count[data-edge="${key}"]`);
  if (!t) {
    t = document.createElementNS(SVG, "text");
    t.setAttribute("class", "edge-count");
    t.setAttribute("text-anchor", "middle");
    t.dataset.edge = key;
    const label = svg.querySelector(`g.label[data-edge="${key}"] rect`);
    if (label) {
      const b = label.getBBox();
      t.setAttribute("x", b.x + b.width / 2);
      t.setAttribute("y", b.y + b.height + 11);
    } else {
      const p = path.getPointAtLength(path.getTotalLength() * 0.5);
      t.setAttribute("x", p.x + 14);
      t.setAttribute("y", p.y + 4);
    }
    svg.append(t);
  }
  t.textContent = text;
}

function drawCounts(report) {
  const svg = $("#canvas svg");
  if (!svg || !report.versions.length) return;
  const counts = nodeCounts(report);
  const byIndex = new Map();
  for (const g of $$("g.node", svg)) {
    byIndex.set(g.dataset.index, g);
    const id = g.dataset.node;
    if (id === undefined) continue;
    const c = counts[Number(id)];
    if (!c) continue;
    g.dataset.entered = c.entered;
    g.dataset.waiting = c.waiting;
    g.dataset.failed = c.failed;
    let text = fmt(c.entered);
    if (c.waiting > 0) text += ` · ${fmt(c.waiting)} waiting`;
    if (c.failed > 0) text += ` · ${fmt(c.failed)} failed`;
    // An end node: the conversions of the instances that ended there, per goal.
    if (c.goals) for (const [goal, n] of Object.entries(c.goals)) text += ` · ${fmt(n)} ${goal}`;
    badge(g, text);
    g.setAttribute("aria-label", `${g.dataset.title}: ${text} entered`);
  }
  // Edges: a split's or an await's paths carry its arms' counts, in order; a single way on
  // carries what passed its source.
  const outs = new Map();
  for (const p of $$("path[data-from]", svg)) {
    if (!outs.has(p.dataset.from)) outs.set(p.dataset.from, []);
    outs.get(p.dataset.from).push(p);
  }
  for (const [from, paths] of outs) {
    const g = byIndex.get(from);
    const c = g && g.dataset.node !== undefined ? counts[Number(g.dataset.node)] : null;
    if (!c) continue;
    if (c.arms && paths.length === Object.keys(c.arms).length) {
      Object.values(c.arms).forEach((n, k) => edgeCount(paths[k], fmt(n)));
    } else if (paths.length === 1 && !c.handlers) {
      edgeCount(paths[0], fmt(c.passed));
    }
  }
}

async function refresh() {
  const name = state.selected;
  if (!name) return;
  try {
    const report = await json(`/journeys/${encodeURIComponent(name)}/report`);
    if (name !== state.selected) return;
    state.report = report;
    drawCounts(report);
    drawExperiments(report);
    const shown = shownVersion(report);
    $("#updated").textContent = `Updated ${new Date().toLocaleTimeString()} · ${fmt(shown.report.started)} started, ${fmt(shown.report.running)} running in version ${shown.version}`;
    if (!document.body.dataset.firstPaint) {
      document.body.dataset.firstPaint = String(Math.round(performance.now() - started));
    }
  } catch (e) {
    if (e.message !== "unauthorized") $("#updated").textContent = `Cannot update: ${e.message}`;
  }
}

function startPolling() {
  stopPolling();
  let ticks = 0;
  state.timer = setInterval(() => {
    refresh();
    // The list's entries today, every 10 seconds.
    if (++ticks % 10 === 0) loadJourneys().catch(() => {});
  }, 1000);
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// ---------------------------------------------------------------------------------------------
// Experiment panel

function drawExperiments(report) {
  const latest = shownVersion(report).report;
  const panel = $("#experiment");
  const exps = latest.experiments || [];
  panel.hidden = exps.length === 0;
  const body = $("#experiment-body");
  body.replaceChildren(
    ...exps.map((e) => {
      const box = el("div", { class: "experiment", "data-node": String(e.node) });
      box.append(el("p", { text: `${e.label} (line ${e.line}), control "${e.control}"` }));
      if (!e.analysis) {
        const t = el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Arm" }), el("th", { scope: "col", class: "num", text: "Assigned" }))));
        const tb = el("tbody");
        for (const a of e.arms) tb.append(el("tr", {}, el("td", { text: a.label }), el("td", { class: "num", text: fmt(a.assigned) })));
        t.append(tb);
        box.append(t, el("p", { class: "muted", text: "No goals yet: declare a goal in the journey to compare the arms' conversions." }));
        return box;
      }
      for (const g of e.analysis.goals) {
        box.append(el("h3", { text: `Goal "${g.goal}"` }));
        // A goal with a value: the value per assigned profile, and its p-value against the control.
        const valued = g.arms.some((a) => a.value_per_profile != null);
        const cols = ["Arm", "Assigned", "Converted", "Rate (95% CI)", "Lift, points (95% CI)", "p"];
        if (valued) cols.push("Value/profile", "Value p");
        const head = el("tr", {}, ...cols.map((h) => el("th", { scope: "col", text: h })));
        const tb = el("tbody");
        for (const a of g.arms) {
          const v = a.versus_control;
          const cells = [
            el("td", { text: a.label }),
            el("td", { class: "num", text: fmt(a.assigned) }),
            el("td", { class: "num", text: fmt(a.converted) }),
            el("td", { class: "num", text: `${pct(a.rate)} (${ci(a.rate_interval)})` }),
            el("td", { class: "num", text: v ? `${v.lift >= 0 ? "+" : ""}${(v.lift * 100).toFixed(1)} (${ci(v.lift_interval)})` : "control" }),
            el("td", { class: "num", text: v ? pText(v.p_adjusted ?? v.p) : "-" }),
          ];
          if (valued) {
            cells.push(el("td", { class: "num", text: a.value_per_profile == null ? "-" : a.value_per_profile.toFixed(2) }));
            const w = v && v.value;
            cells.push(el("td", { class: "num", text: w ? pText(v.value_p_adjusted ?? w.p) : "-" }));
          }
          tb.append(el("tr", {}, ...cells));
        }
        box.append(el("div", { class: "scroll" }, el("table", {}, el("thead", {}, head), tb)));
        for (const a of g.arms) if (a.verdict) box.append(el("p", { class: "verdict", text: a.verdict }));
      }
      for (const w of e.analysis.warnings) box.append(el("p", { class: "warning", role: "note", text: w }));
      return box;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Node detail

async function showNode(g) {
  const id = g.dataset.node;
  const section = $("#node-detail");
  section.hidden = false;
  $("#node-title").textContent = g.dataset.title;
  const body = $("#node-body");
  if (id === undefined || !state.report) {
    body.replaceChildren(el("p", { class: "muted", text: "The start and the implicit end have no counts of their own." }));
    return;
  }
  const c = nodeCounts(state.report)[Number(id)];
  const latest = shownVersion(state.report).report.nodes[Number(id)];
  const rows = [
    ["Kind", latest.kind],
    ["Line", String(latest.line)],
    ["Entered", fmt(c.entered)],
    ["Passed", fmt(c.passed)],
    ["Exited", fmt(c.exited)],
    ["Failed", fmt(c.failed)],
    ["Waiting now", fmt(c.waiting)],
    ["Entered, last 24 hours", fmt(c.window.entered)],
  ];
  for (const f of ["arms", "handlers"]) {
    if (c[f]) for (const [k, n] of Object.entries(c[f])) rows.push([`${f === "arms" ? "Arm" : "Handler"} ${k}`, fmt(n)]);
  }
  const table = el("table", { class: "node-counts" });
  for (const [k, v] of rows) table.append(el("tr", {}, el("th", { scope: "row", text: k }), el("td", { class: "num", text: v })));
  body.replaceChildren(table);
  try {
    const r = await json(`/journeys/${encodeURIComponent(state.selected)}/report?hours=true`);
    body.append(el("h3", { text: "Entered per hour, last 24 hours" }), hourChart(r, Number(id)));
  } catch (e) {
    /* the counts are shown */
  }
  try {
    const errors = (await json(`/journeys/${encodeURIComponent(state.selected)}/errors`)).filter((e) => String(e.node) === id);
    body.append(el("h3", { text: "Last errors" }));
    if (!errors.length) body.append(el("p", { class: "muted", text: "None kept." }));
    const list = el("ul");
    for (const e of errors.slice(0, 10)) list.append(el("li", { text: `${e.time} ${e.profile}: ${e.error}` }));
    body.append(list);
  } catch (e) {
    /* the counts are shown */
  }
  $("#node-title").focus?.();
}

/** Bars of a node's entries per hour over the last 24 hours (all versions with that node). */
function hourChart(report, id) {
  const now = Math.floor(Date.now() / 3600000);
  const bars = new Array(24).fill(0);
  const label = report.versions[report.versions.length - 1].report.nodes[id]?.label;
  for (const v of report.versions) {
    if (v.report.nodes[id]?.label !== label) continue;
    for (const h of v.report.hours || []) {
      const k = 23 - (now - Math.floor(Date.parse(h.hour) / 3600000));
      if (k >= 0 && k < 24) bars[k] += h.entered[id] || 0;
    }
  }
  const max = Math.max(1, ...bars);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 240 60");
  svg.setAttribute("class", "hours");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Entered per hour, oldest first: ${bars.join(", ")}`);
  bars.forEach((n, k) => {
    const r = document.createElementNS(SVG, "rect");
    const h = (n / max) * 50;
    r.setAttribute("x", k * 10 + 1);
    r.setAttribute("y", 55 - h);
    r.setAttribute("width", 8);
    r.setAttribute("height", Math.max(h, 0.5));
    r.setAttribute("fill", "#1d5fa8");
    const t = document.createElementNS(SVG, "title");
    t.textContent = `${23 - k} h ago: ${n}`;
    r.append(t);
    svg.append(r);
  });
  return svg;
}

// ---------------------------------------------------------------------------------------------
// Where is this profile?

async function findProfile(key) {
  const section = $("#profile");
  section.hidden = false;
  $("#profile-title").textContent = `Profile ${key}`;
  const body = $("#profile-body");
  body.replaceChildren(el("p", { text: "Looking…" }));
  let list;
  try {
    list = await json(`/profiles/${encodeURIComponent(key)}/instances`);
  } catch (e) {
    body.replaceChildren(el("p", { class: "error", text: e.message }));
    return;
  }
  if (!list.length) {
    body.replaceChildren(el("p", { text: "Not in any journey now." }));
    clearPath();
    return;
  }
  body.replaceChildren();
  for (const i of list) {
    const until = i.until ? ` until ${i.until}` : "";
    body.append(el("p", { class: "where", text: `${i.journey} v${i.version}: at "${i.node}" (line ${i.line}), waiting for ${i.waits_for}${until}; entered ${i.entered}` }));
    const t = el("table", { class: "steps" }, el("thead", {}, el("tr", {}, ...["Time", "Node", "Outcome", "Arm"].map((h) => el("th", { scope: "col", text: h })))));
    const tb = el("tbody");
    for (const s of i.steps || []) tb.append(el("tr", {}, el("td", { text: s.time.slice(11, 19) }), el("td", { text: `${s.node} ${s.kind}` }), el("td", { text: s.outcome + (s.error ? `: ${s.error}` : "") }), el("td", { text: s.arm || "" })));
    t.append(tb);
    body.append(t);
  }
  const first = list[0];
  state.profile = first;
  // Its path on the canvas of the version it runs on.
  if (first.journey !== state.selected || first.version !== state.version) await select(first.journey, first.version);
  drawPath(first);
}

function clearPath() {
  $$("#canvas .on-path, #canvas .here").forEach((g) => g.classList.remove("on-path", "here"));
}

function drawPath(instance) {
  clearPath();
  const ids = new Set(instance.path.map(String));
  for (const g of $$("#canvas g.node[data-node]")) {
    if (ids.has(g.dataset.node)) g.classList.add("on-path");
    if (g.dataset.node === String(instance.node_id)) g.classList.add("here");
  }
}

// ---------------------------------------------------------------------------------------------
// Publish, close, stop

const WHAT = {
  publish: (j) => `Publish the project's current ${j} as a new version? New entries go to it; running instances finish on their version.`,
  close: (j) => `Close ${j}? It takes no new entries; running instances go on to their end.`,
  stop: (j) => `Stop ${j}? It takes no new entries and every running instance ends now, labelled "stopped".`,
};

async function act(action) {
  const name = state.selected;
  const dialog = $("#confirm");
  $("#confirm-title").textContent = `${action[0].toUpperCase()}${action.slice(1)} ${name}?`;
  $("#confirm-text").textContent = WHAT[action](name);
  $("#confirm-ok").textContent = `${action[0].toUpperCase()}${action.slice(1)}`;
  dialog.returnValue = "";
  dialog.showModal();
  const answer = await new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
  if (answer !== "ok") return;
  try {
    const sent = await json(`/journeys/${encodeURIComponent(name)}/${action}`, { method: "POST" });
    $("#journey-status").textContent = `${action} sent…`;
    // The engine applies it from the log: wait until the list says so.
    for (let k = 0; k < 50; k++) {
      await loadJourneys();
      const j = state.journeys.find((x) => x.name === name);
      const applied = j && (action === "publish" ? j.versions.includes(sent.version) : action === "stop" ? j.status === "stopped" : j.status !== "live");
      if (applied) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const j = state.journeys.find((x) => x.name === name);
    // A new version: its canvas, as published.
    if (action === "publish") await select(name);
    $("#journey-status").textContent = j ? `version ${j.version} · ${j.status}` : "";
    if (action === "stop") clearPath();
    $$("#journeys tbody tr").forEach((r) => r.setAttribute("aria-selected", String(r.dataset.journey === name)));
  } catch (e) {
    $("#journey-status").textContent = `${action} failed: ${e.message}`;
  }
}

// ---------------------------------------------------------------------------------------------

async function boot() {
  try {
    await loadJourneys();
  } catch (e) {
    if (e.message !== "unauthorized") $("#login-error").textContent = e.message;
    return;
  }
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#search").hidden = false;
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = state.journeys.find((j) => j.name === wanted) || state.journeys[0];
  if (first) await select(first.name);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  state.token = $("#token").value.trim();
  sessionStorage.setItem("journey-token", state.token);
  await boot();
});
$("#search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const key = $("#profile-key").value.trim();
  if (key) findProfile(key);
});
$$("#actions button").forEach((b) => b.addEventListener("click", () => act(b.dataset.action)));
$("#version").addEventListener("change", (ev) => select(state.selected, Number(ev.target.value)));
window.addEventListener("hashchange", () => select(decodeURIComponent(location.hash.slice(1))));
// For the browser tests (tests/console): the experiment panel drawn from a given report.
window.__journeyConsole = {
  drawExperiments: (report) => {
    stopPolling();
    drawExperiments(report);
  },
};
boot();
