// The supervisors' web console in real headless Chromium against a real `gridwalk-server
// serve --demo`, with a real device: the worker (王芳, the CLI with its own store) files a case
// with a photo and syncs; the leader (赵敏) sees it in the queue with its light, accepts,
// dispatches, has it handled and asks for verification; the worker's next sync brings the
// task, she verifies with an after-photo and syncs; the leader evaluates, records the
// call-back and closes. Plus: English, another street's supervisor sees nothing (404), a POST
// without the CSRF token is refused, tasks, deadlines, a grid worker refused. Every page is
// screenshotted into $GW_SHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BASE, WORK, cli, launch, newPage, shot, shots, signIn, act, png } from "./support.mjs";

const GRID = "640323001001001";
let browser;
let caseId;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
  console.log(`screenshots (${shots.length}):\n${shots.map((s) => `  ${s}`).join("\n")}`);
});

test("the whole loop: worker files with a photo, leader dispatches, worker verifies, leader closes", async () => {
  // The worker's phone: her own store, signed in to the server.
  cli("wang.db", ["init", "--grid-code", GRID, "--grid-name", "幸福社区第1网格"]);
  cli("wang.db", ["login", "--server", BASE, "--user", "wangfang"]);
  const before = join(WORK, "before.png");
  writeFileSync(before, png(320, 240, (x, y) => [200 + (x % 40), 90 + (y % 30), 40]));
  const draft = cli("wang.db", [
    "case", "draft", "--type", "0203", "--urgency", "urgent",
    "--desc", "3栋楼道内电动车违规充电，堵塞消防通道", "--lat", "37.7836", "--lng", "107.3932",
    "--address", "幸福小区3栋2单元楼道", "--photo", before,
  ], { json: true });
  caseId = draft.id ?? draft.case?.id;
  assert.ok(caseId, `draft id in ${JSON.stringify(draft).slice(0, 200)}`);
  cli("wang.db", ["case", "submit", caseId]);
  cli("wang.db", ["sync"]);

  // The leader signs in and sees it in the queue with its light.
  const page = await newPage(browser);
  await page.goto(`${BASE}/console/`);
  assert.match(await page.locator("h1").innerText(), /登录/);
  await shot(page, "01-login");
  await signIn(page, "zhaomin");
  assert.equal(new URL(page.url()).pathname, "/console/queue");
  const row = page.locator(`tr[data-case="${caseId}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute("data-light"), "green");
  assert.match(await row.innerText(), /电动车违规充电/);
  assert.match(await row.innerText(), /已上报/);
  assert.match(await row.innerText(), /待受理/);
  assert.match(await page.locator('[data-status="submitted"]').innerText(), /^[1-9]/);
  await shot(page, "02-queue");

  // The case page: facts, before photo (through the scoped blob route), map, actions.
  await Promise.all([page.waitForNavigation(), row.locator("a").first().click()]);
  assert.equal(new URL(page.url()).pathname, `/console/cases/${caseId}`);
  const img = page.locator("figure img").first();
  await img.waitFor();
  assert.ok(await img.evaluate((i) => i.complete && i.naturalWidth > 0), "the before photo renders");
  assert.equal(await page.locator("svg.map .pin").count(), 1);
  await shot(page, "03-case-submitted");

  await act(page, "accept");
  await act(page, "dispatch", (f) => f.locator("input[name=assignee]").fill("幸福小区物业服务中心"));
  await act(page, "handle");
  await act(page, "request_verification");
  assert.equal(await page.locator("[data-status]").first().getAttribute("data-status"), "verification_requested");
  await shot(page, "04-case-verification-requested");

  // The worker's next sync brings the verification task; she verifies with an after-photo.
  cli("wang.db", ["sync"]);
  const tasks = cli("wang.db", ["tasks"], { json: true });
  const list = Array.isArray(tasks) ? tasks : tasks.tasks ?? [];
  assert.ok(
    list.some((t) => t.kind === "verify_case" && (t.target?.id ?? t.target_id) === caseId),
    `a verify_case task for the case in ${JSON.stringify(tasks).slice(0, 300)}`,
  );
  const afterPhoto = join(WORK, "after.png");
  writeFileSync(afterPhoto, png(320, 240, (x, y) => [60, 150 + (y % 40), 80 + (x % 50)]));
  cli("wang.db", ["case", "verify", caseId, "--ok", "--note", "电动车已清走，楼道畅通", "--photo", afterPhoto]);
  cli("wang.db", ["sync"]);

  // The leader sees the verification and the after photo, evaluates, calls back, closes.
  await page.reload();
  assert.equal(await page.locator("[data-status]").first().getAttribute("data-status"), "verified");
  assert.equal(await page.locator("figure img").count(), 2, "before and after photos");
  assert.ok(
    await page.locator("figure img").nth(1).evaluate((i) => i.complete && i.naturalWidth > 0),
    "the after photo renders",
  );
  assert.match(await page.locator("ol.timeline").innerText(), /电动车已清走/);
  await act(page, "evaluate", async (f) => {
    await f.locator("select[name=score]").selectOption("5");
    await f.locator("textarea[name=reason]").fill("处置及时，效果良好");
  });
  await act(page, "record_call_back", async (f) => {
    await f.locator('input[name=reached][value="true"]').check();
    await f.locator('input[name=satisfaction][value="satisfied"]').check();
  });
  await act(page, "close");
  assert.equal(await page.locator("[data-status]").first().getAttribute("data-status"), "closed");
  const timeline = await page.locator("ol.timeline").innerText();
  for (const step of ["上报", "受理", "派遣", "开始处置", "申请核查", "核查通过", "评价", "记录回访结果", "结案"]) {
    assert.ok(timeline.includes(step), `timeline has ${step}:\n${timeline}`);
  }
  assert.match(await page.locator('[data-field="evaluation"]').innerText(), /5 \/ 5/);
  assert.match(await page.locator('[data-field="callback"]').innerText(), /满意/);
  await shot(page, "05-case-closed");

  // Closed cases are grey in the queue.
  await page.goto(`${BASE}/console/queue?status=closed`);
  assert.equal(await page.locator(`tr[data-case="${caseId}"]`).getAttribute("data-light"), "grey");
  await page.context().close();
});

test("English is one click away and kept", async () => {
  const page = await newPage(browser);
  await signIn(page, "zhaomin");
  await Promise.all([page.waitForNavigation(), page.click("a.lang")]);
  assert.equal(await page.locator("h1").innerText(), "Case queue");
  await page.goto(`${BASE}/console/cases/${caseId}`);
  assert.match(await page.locator("h1").innerText(), /e-bike charging hazard · closed/);
  await shot(page, "06-case-en");
  await page.goto(`${BASE}/console/queue`);
  await shot(page, "07-queue-en");
  await page.context().close();
});

test("another street's supervisor sees nothing: 404 like a missing case", async () => {
  const page = await newPage(browser);
  await signIn(page, "zhouwei");
  const theirs = await page.goto(`${BASE}/console/cases/${caseId}`);
  assert.equal(theirs.status(), 404);
  const text = await page.locator("main").innerText();
  await shot(page, "08-out-of-scope-404");
  const missing = await page.goto(`${BASE}/console/cases/01900000-0000-7000-8000-000000000000`);
  assert.equal(missing.status(), 404);
  assert.equal(await page.locator("main").innerText(), text);
  await page.goto(`${BASE}/console/queue`);
  assert.equal(await page.locator(`tr[data-case="${caseId}"]`).count(), 0);
  assert.equal(await page.locator('[data-status="total"]').innerText(), "0");
  await page.context().close();
});

test("a POST without the CSRF token is refused and changes nothing", async () => {
  const page = await newPage(browser);
  await signIn(page, "zhaomin");
  // The session cookie is sent, the token is not.
  const res = await page.request.post(`${BASE}/console/cases/${caseId}/actions`, {
    form: { action: "archive" },
    maxRedirects: 0,
  });
  assert.equal(res.status(), 403);
  assert.equal(res.headers()["x-gridwalk-error"], "csrf_refused");
  // The same through the page: a form whose token was removed.
  await page.goto(`${BASE}/console/cases/${caseId}`);
  const form = page.locator('form.action[data-action="archive"]');
  await form.evaluate((f) => f.querySelector("input[name=csrf]").remove());
  page.once("dialog", (d) => d.accept());
  const [refused] = await Promise.all([page.waitForNavigation(), form.locator("button").click()]);
  assert.equal(refused.status(), 403);
  assert.match(await page.locator("main").innerText(), /CSRF/);
  await shot(page, "09-csrf-refused");
  await page.goto(`${BASE}/console/cases/${caseId}`);
  assert.equal(await page.locator("[data-status]").first().getAttribute("data-status"), "closed");
  await page.context().close();
});

test("tasks: the leader assigns a visit, the worker's phone receives it", async () => {
  const page = await newPage(browser);
  await signIn(page, "zhaomin");
  await page.goto(`${BASE}/console/tasks`);
  await page.selectOption("select[name=kind]", "visit_household");
  await page.fill("input[name=title]", "走访3栋独居老人李奶奶");
  await page.selectOption("select[name=assignee]", "wangfang");
  await page.selectOption("select[name=priority]", "high");
  await Promise.all([page.waitForNavigation(), page.click("form.stack button[type=submit]")]);
  assert.match(await page.locator("p.notice").innerText(), /已派发/);
  assert.match(await page.locator("table.tasks").innerText(), /走访3栋独居老人李奶奶/);
  await shot(page, "10-tasks");
  cli("wang.db", ["sync"]);
  const tasks = cli("wang.db", ["tasks"], { json: true });
  const list = Array.isArray(tasks) ? tasks : tasks.tasks ?? [];
  assert.ok(list.some((t) => t.title === "走访3栋独居老人李奶奶"), "the worker has the task");
  await page.context().close();
});

test("deadlines: the district edits, the leader reads", async () => {
  const page = await newPage(browser);
  await signIn(page, "gaojian");
  await page.goto(`${BASE}/console/deadlines`);
  await page.fill('input[name="h_02_urgent"]', "8");
  await Promise.all([page.waitForNavigation(), page.click("main form button[type=submit]")]);
  assert.equal(await page.inputValue('input[name="h_02_urgent"]'), "8");
  await shot(page, "11-deadlines-district");
  await page.context().close();
  const lead = await newPage(browser);
  await signIn(lead, "zhaomin");
  await lead.goto(`${BASE}/console/deadlines`);
  assert.equal(await lead.locator("input[type=number]").count(), 0);
  await lead.context().close();
});

test("a grid worker signing in is politely sent to the phone app", async () => {
  const page = await newPage(browser);
  await page.goto(`${BASE}/console/login`);
  await page.fill("input[name=username]", "wangfang");
  await page.fill("input[name=password]", "demo-pass");
  const [res] = await Promise.all([page.waitForNavigation(), page.click("main.login button[type=submit]")]);
  assert.equal(res.status(), 403);
  assert.match(await page.locator("main").innerText(), /手机应用/);
  await shot(page, "12-worker-refused");
  await page.context().close();
});
