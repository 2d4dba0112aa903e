// The console in a real browser: headless Chromium (Debian's /usr/bin/chromium, never a
// downloaded one) driven by playwright-core, against a running `journey serve` that
// tests/console.rs starts with 20 journeys and a token. This script feeds it events through the
// API and checks what a marketer sees; it writes screenshots of the main views to
// $SCREENSHOTS. It prints `first-paint-ms N` (measured, not asserted).
//
// Env: CONSOLE_URL, CONSOLE_TOKEN, SCREENSHOTS, CONSOLE_PROJECT (the project's folder, which
// the test changes before publishing from the console).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const url = process.env.CONSOLE_URL;
const token = process.env.CONSOLE_TOKEN;
const shots = process.env.SCREENSHOTS;
const project = process.env.CONSOLE_PROJECT;
mkdirSync(shots, { recursive: true });

async function post(path, body) {
  const resp = await fetch(url + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-ndjson" },
    body,
  });
  const text = await resp.text();
  assert.equal(resp.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

async function get(path) {
  const resp = await fetch(url + path, { headers: { Authorization: `Bearer ${token}` } });
  const text = await resp.text();
  assert.equal(resp.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

function visits(from, to) {
  const lines = [];
  for (let i = from; i < to; i++) lines.push(JSON.stringify({ id: `v-${i}`, event: "Visit", payload: { email: `p${i}@x.com` } }));
  return lines.join("\n");
}

const step = (what) => console.log(`- ${what}`);

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  page.on("pageerror", (e) => {
    console.error("page error:", e);
    process.exitCode = 1;
  });
  // Works offline: everything the console loads comes from the server itself (no CDN).
  const external = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(url) && !r.url().startsWith("data:")) external.push(r.url());
  });

  step("without the token, only the login is served; a wrong token is refused");
  await page.goto(url + "/");
  await page.locator("#login").waitFor({ state: "visible" });
  assert.equal(await page.locator("#app").isVisible(), false);
  await page.getByLabel("Token").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("That token is not the server's.").waitFor();
  assert.equal(await page.locator("#app").isVisible(), false);
  await page.screenshot({ path: `${shots}/login.png` });

  step("the right token: 20 journeys with version, status and entries today");
  await post("/events", visits(0, 30));
  const loginStart = Date.now();
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#journeys tbody tr").nth(19).waitFor();
  assert.equal(await page.locator("#journeys tbody tr").count(), 20);
  await page.locator("body[data-first-paint]").waitFor({ state: "attached" });
  const signIn = Date.now() - loginStart;
  // First paint: a fresh load with the token kept (the session's), from navigation to the
  // list and the first journey drawn with its counts.
  await page.reload();
  await page.locator("body[data-first-paint]").waitFor({ state: "attached" });
  const firstPaint = await page.locator("body").getAttribute("data-first-paint");
  console.log(`first-paint-ms ${firstPaint} (20 journeys: load to the list and the first canvas with counts; ${signIn} ms from sign-in)`);

  step("the experiment journey: counts on its nodes");
  await page.locator('#journeys tr[data-journey="Promo"]').click();
  const split = page.locator("#canvas g.node.split");
  await page.waitForFunction(() => document.querySelector("#canvas g.node.split")?.dataset.entered === "30");
  const awaitNode = page.locator("#canvas g.node.await");
  await page.waitForFunction(() => document.querySelector("#canvas g.node.await")?.dataset.waiting === "30");
  const row = page.locator('#journeys tr[data-journey="Promo"]');
  assert.equal(await row.locator("td.status").textContent(), "live");
  await page.waitForFunction(() => document.querySelector('#journeys tr[data-journey="Promo"] td.today')?.textContent !== "0");

  step("more events arrive: the counts change while we watch");
  await post("/events", visits(30, 45));
  await page.waitForFunction(() => document.querySelector("#canvas g.node.split")?.dataset.entered === "45");
  assert.equal(await awaitNode.getAttribute("data-waiting"), "45");
  // A split's edges carry its arms' counts, adding up to what entered it.
  const edgeCounts = await page.$$eval("#canvas text.edge-count", (ts) => ts.map((t) => t.textContent));
  assert.ok(edgeCounts.length >= 2, `edge counts: ${edgeCounts}`);
  // End nodes carry the journey's goals: the conversions of the instances that ended there.
  const ends = await page.$$eval("#canvas g.node.end g.badge", (bs) => bs.map((b) => b.textContent));
  assert.ok(ends.length >= 2 && ends.every((t) => / purchase$/.test(t)), `end nodes' badges: ${ends}`);
  await page.screenshot({ path: `${shots}/journey.png` });

  step("a node's detail");
  await split.focus();
  await page.keyboard.press("Enter");
  await page.locator("#node-detail").waitFor({ state: "visible" });
  const detail = await page.locator("#node-body").textContent();
  assert.match(detail, /Entered45/);
  assert.match(detail, /Arm control/);
  await page.locator("#node-body svg.hours").waitFor();
  const perHour = (await page.locator("#node-body svg.hours").getAttribute("aria-label")).split(": ")[1].split(", ").map(Number);
  assert.equal(perHour.length, 24);
  assert.equal(perHour.reduce((a, b) => a + b, 0), 45, `the hours hold the 45 entries: ${perHour}`);

  step("the experiment panel: arms as assigned, no conversions yet");
  await page.locator("#experiment").waitFor({ state: "visible" });
  const assigned = await page.$$eval("#experiment-body tbody tr", (trs) => trs.map((tr) => Number(tr.children[1].textContent)));
  assert.equal(assigned.reduce((a, b) => a + b, 0), 45, `assigned: ${assigned}`);
  await page.screenshot({ path: `${shots}/experiment-arms.png` });

  step("where is this profile: its instance, where it waits and until when, its path drawn");
  await page.getByLabel("Where is this profile?").fill("p7@x.com");
  await page.getByRole("button", { name: "Find" }).click();
  await page.locator("#profile-body .where").waitFor();
  const where = await page.locator("#profile-body .where").textContent();
  assert.match(where, /Promo v1: at "await Buy"/);
  assert.match(where, /waiting for event Buy until 20\d\d-/);
  assert.ok((await page.locator("#canvas g.on-path").count()) >= 2, "the path is drawn");
  assert.equal(await page.locator("#canvas g.here").count(), 1, "where it waits is marked");
  const arm = await page.locator("#profile-body .steps td").nth(3).textContent();
  assert.ok(["control", "A", "B"].includes(arm), `the split's step names the arm: ${arm}`);
  await page.screenshot({ path: `${shots}/profile.png` });

  step("stop asks for confirmation; cancel keeps it live; confirm stops it");
  await page.getByRole("button", { name: "Stop" }).click();
  const dialog = page.locator("#confirm");
  await dialog.waitFor({ state: "visible" });
  assert.match(await dialog.textContent(), /every running instance ends now/);
  await page.screenshot({ path: `${shots}/stop-confirm.png` });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await row.locator("td.status").textContent(), "live");
  await page.getByRole("button", { name: "Stop" }).click();
  await dialog.getByRole("button", { name: "Stop" }).click();
  await page.waitForFunction(() => document.querySelector('#journeys tr[data-journey="Promo"] td.status')?.textContent === "stopped");
  await page.waitForFunction(() => document.querySelector("#journey-status")?.textContent.includes("stopped"));
  await page.waitForFunction(() => document.querySelector("#canvas g.node.await")?.dataset.waiting === "0");
  await page.screenshot({ path: `${shots}/stopped.png` });

  step("the experiment panel with goals: purchases after the instances ended convert, the verdict in words");
  // Every third profile buys, after its instance was stopped: conversions count all the same.
  const buys = [];
  for (let i = 0; i < 45; i += 3) buys.push(JSON.stringify({ id: `b-${i}`, event: "Buy", payload: { email: `p${i}@x.com` } }));
  await post("/events", buys.join("\n"));
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll("#experiment-body tbody tr")].map((tr) => Number(tr.children[2]?.textContent));
    return cells.length === 3 && cells.reduce((a, b) => a + b, 0) === 15;
  });
  const report = (await get("/journeys/Promo/report")).versions[0].report;
  assert.equal(report.goals[0].converted, 15, JSON.stringify(report.goals));
  const want = report.experiments[0].analysis.goals[0].arms.filter((a) => a.verdict).map((a) => a.verdict);
  assert.equal(want.length, 2, "A and B against the control");
  for (const v of want) assert.match(v, /^(A|B) converts \d+\.\d points (better|worse) than control/);
  const shown = await page.$$eval("#experiment p.verdict", (ps) => ps.map((p) => p.textContent));
  assert.deepEqual(shown, want, "the panel shows the report's verdicts");
  await page.locator("#experiment").screenshot({ path: `${shots}/experiment.png` });

  step("publish a changed journey: the canvas is the new version's, and version 1 is still drawn as published");
  writeFileSync(`${project}/promo.journey`, readFileSync(`${project}/promo.journey`, "utf8").replace("  split {", "  wait 1h\n  split {"));
  await page.getByRole("button", { name: "Publish" }).click();
  await dialog.getByRole("button", { name: "Publish" }).click();
  await page.locator('#canvas[data-version="2"] g.node.wait').waitFor();
  await page.waitForFunction(() => document.querySelector('#journeys tr[data-journey="Promo"] td.status')?.textContent === "live");
  assert.equal(await page.locator("#version").inputValue(), "2");
  await page.locator("#version").selectOption("1");
  await page.locator('#canvas[data-version="1"]').waitFor();
  assert.equal(await page.locator("#canvas g.node.wait").count(), 0, "version 1 has no wait");
  await page.waitForFunction(() => document.querySelector("#canvas g.node.split")?.dataset.entered === "45");
  // The experiment panel is version 1's too.
  await page.waitForFunction(() => [...document.querySelectorAll("#experiment-body tbody tr")].map((tr) => Number(tr.children[1]?.textContent)).reduce((a, b) => a + b, 0) === 45);
  await page.screenshot({ path: `${shots}/versions.png` });

  step("close asks for confirmation, then the journey is closed and takes no new entries");
  await page.locator('#journeys tr[data-journey="Other01"]').click();
  await page.getByRole("button", { name: "Close" }).click();
  await dialog.waitFor({ state: "visible" });
  assert.match(await dialog.textContent(), /takes no new entries/);
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.waitForFunction(() => document.querySelector('#journeys tr[data-journey="Other01"] td.status')?.textContent === "closed");
  await post("/events", JSON.stringify({ id: "o-1", event: "Other", payload: { email: "late@x.com" } }));
  // Once the engine has applied the event: the open journeys took it, the closed one did not.
  for (let k = 0; ; k++) {
    const s = await get("/status");
    if (s.applied === s.log_entries) break;
    assert.ok(k < 600, `the engine applies the log: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const open = (await get("/journeys/Other02/report")).versions.map((v) => v.report.started);
  assert.equal(open.reduce((a, b) => a + b, 0), 1, `an open journey took the event: ${open}`);
  const others = (await get("/journeys/Other01/report")).versions.map((v) => v.report.started);
  assert.ok(others.every((n) => n === 0), `a closed journey takes no new entries: ${others}`);

  step("keyboard: the journeys and the nodes are reachable with Tab");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.tagName);
  assert.ok(focused, "something has the focus");
  assert.deepEqual(external, [], "the console loads nothing from outside the server (works offline)");
  console.log("console tests passed");
} finally {
  await browser.close();
}
