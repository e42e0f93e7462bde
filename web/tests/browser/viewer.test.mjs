// The viewer in Chromium against a real `medimint up`: a study of six series from
// pydicom's test files (CT, MR, RGB, a 30-frame colour cine, a JPEG 2000 CT, palette
// colour) released to the patient with the CLI, approved and shared through the API; the
// doctor opens it in the viewer. Each series is drawn with real pixels; scrolling moves the
// frame counter; a window preset changes the image; zoom changes its scale. Once the
// patient revokes the share, the doctor's viewer refuses in words. Screenshots of each
// series go to web/test-results/screens/viewer-*.png (the checked-in copies:
// docs/screenshots/viewer-*.png).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { WEB, axe, codeFor, launch, messagesTo, shot, startUp } from "./harness.mjs";

let up;
let browser;
let work;
let token;
let page;
const problems = [];
const SERIES = [];

before(async () => {
  up = await startUp();
  browser = await launch();
  work = mkdtempSync(join(tmpdir(), "medimint-viewer-test-"));
});

after(async () => {
  await browser?.close();
  await up?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Signs `email` in through the API (the code from the outbox); resolves with the bearer token. */
async function apiSignIn(email) {
  const before = messagesTo(up.outbox, email);
  const sent = await fetch(`${up.base}/auth/email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email }),
  });
  assert.equal(sent.status, 202, await sent.text());
  let code;
  for (let i = 0; i < 100 && !(code = codeFor(up.outbox, email, before)); i++) await new Promise((r) => setTimeout(r, 50));
  const res = await fetch(`${up.base}/auth/email/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, code }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

async function call(bearer, method, path, body) {
  const res = await fetch(`${up.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** What the stage's canvas holds: its size, how many pixels are not near black, and a hash. */
function pixels() {
  return page.evaluate(() => {
    const c = document.querySelector("canvas.frame");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    let hash = 0;
    const values = new Set();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] + d[i + 1] + d[i + 2] > 48) lit++;
      values.add(d[i]);
      hash = (hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
    }
    const r = c.getBoundingClientRect();
    return { w: c.width, h: c.height, lit, distinct: values.size, hash, shownWidth: r.width, frame: c.dataset.frame, key: c.dataset.key };
  });
}

/** Waits until the canvas shows image `n` (from 1) with a key other than `not`. */
async function drawn(n, not) {
  await page.waitForFunction(
    ([n, not]) => {
      const c = document.querySelector("canvas.frame");
      return c && c.dataset.frame === String(n) && c.dataset.key !== not;
    },
    [n, not ?? ""],
    { timeout: 30_000 },
  );
}

test("a study of six series is released to the patient, approved and shared with the doctor", async () => {
  const { issuer } = up.cli(
    "issuer", "add", "--email", "pacs@general.example", "--name", "General Hospital", "--kind", "hospital",
    "--jurisdiction", "US-CA", "--evidence", "NPI 1234567890",
  );
  const dir = join(work, "export");
  const out = execFileSync("python3", [join(WEB, "tests", "browser", "make_viewer_study.py"), dir, "DOE^JANE", "19800102", "MRN-7"], {
    encoding: "utf8",
  });
  SERIES.push(...out.trim().split("\n"));
  assert.equal(SERIES.length, 6);
  const released = up.cli(
    "release", dir, "--issuer", issuer, "--patient-email", "jane@example.org", "--patient-name", "DOE^JANE",
    "--birth-date", "1980-01-02", "--patient-id", "MRN-7",
  );
  token = Number(released.token_id);
  const jane = await apiSignIn("jane@example.org");
  await call(jane, "POST", `/v1/studies/${token}/consent`, { decision: "approve" });
  await call(jane, "POST", `/v1/studies/${token}/shares`, {
    to: "dr@clinic.example",
    role: "viewer",
    until: Math.floor(Date.now() / 1000) + 86_400,
  });
});

test("the doctor opens the viewer: every series is drawn, with its description", async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`${up.base}/`);
  await page.getByLabel("Email", { exact: true }).fill("dr@clinic.example");
  const before = messagesTo(up.outbox, "dr@clinic.example");
  await page.getByRole("button", { name: "Send me a code" }).click();
  await page.getByLabel("Code from the email").waitFor();
  let code;
  for (let i = 0; i < 100 && !(code = codeFor(up.outbox, "dr@clinic.example", before)); i++) await page.waitForTimeout(50);
  await page.getByLabel("Code from the email").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Studies" }).waitFor();
  // From the study page's link.
  await page.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
  await page.getByRole("link", { name: "View the images" }).click();
  await page.getByRole("heading", { level: 1, name: `Viewer: study #${token}` }).waitFor();
  const buttons = page.getByRole("navigation", { name: "Series" }).getByRole("button");
  await buttons.nth(5).waitFor();
  assert.equal(await buttons.count(), 6);
  for (const [i, description] of SERIES.entries()) {
    const button = buttons.nth(i);
    assert.match(await button.textContent(), new RegExp(description));
    await button.click();
    await drawn(1);
    const p = await pixels();
    assert.ok(p.lit > (p.w * p.h) / 20, `${description}: the image has lit pixels (${JSON.stringify(p)})`);
    assert.ok(p.distinct > 8, `${description}: the image is not flat (${JSON.stringify(p)})`);
    await page.waitForFunction(() => [...document.querySelectorAll("canvas.thumb")].every((c) => c.dataset.drawn === "1"));
    const name = description.split(" ")[0].toLowerCase();
    await shot(page, `viewer-${name}`);
  }
  const violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
});

test("scrolling moves through images and frames; a window changes the image; zoom scales it", async () => {
  const buttons = page.getByRole("navigation", { name: "Series" }).getByRole("button");
  // The CT series: six instances, by the wheel, the keys and the slider.
  await buttons.nth(0).click();
  await drawn(1);
  await page.getByText("Image 1 of 6").waitFor();
  const stage = page.getByRole("region", { name: /^Image \d+ of 6$/ });
  await stage.hover();
  await page.mouse.wheel(0, 120);
  await page.getByText("Image 2 of 6").waitFor();
  await drawn(2);
  await stage.focus();
  await page.keyboard.press("ArrowDown");
  await page.getByText("Image 3 of 6").waitFor();
  await page.keyboard.press("End");
  await page.getByText("Image 6 of 6").waitFor();
  await drawn(6);
  await page.getByLabel("Image", { exact: true }).fill("4");
  await page.getByText("Image 4 of 6").waitFor();
  await drawn(4);

  // A window preset: the API renders the frame again, and the pixels differ.
  const plain = await pixels();
  await page.getByLabel("Window", { exact: true }).selectOption({ label: "Lung" });
  await drawn(4, plain.key);
  const lung = await pixels();
  assert.notEqual(lung.hash, plain.hash, "the lung window changes the image");
  assert.match(await page.locator("dd.window").textContent(), /level -600 \/ width 1500/);
  // A drag changes the window too (previewed, then rendered).
  await page.getByLabel("adjust the window").check();
  const box = await stage.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 40, { steps: 4 });
  await page.mouse.up();
  await drawn(4, lung.key);
  assert.notEqual((await pixels()).hash, lung.hash, "the dragged window changes the image");
  assert.equal(await page.getByLabel("Window", { exact: true }).inputValue(), "-1");

  // Zoom: the image is drawn larger on screen; Reset brings it back.
  const before = await pixels();
  await page.getByRole("button", { name: "Zoom in" }).click();
  await page.getByRole("button", { name: "Zoom in" }).click();
  await page.getByText("200%").waitFor();
  const zoomed = await pixels();
  assert.ok(zoomed.shownWidth > before.shownWidth * 1.9, `zoom scales the image: ${before.shownWidth} → ${zoomed.shownWidth}`);
  await shot(page, "viewer-ct-zoomed");
  await page.getByRole("button", { name: "Reset" }).click();
  await page.getByText("100%").waitFor();

  // The 30-frame cine: frames of one instance.
  await buttons.nth(3).click();
  await drawn(1);
  await page.getByText("Image 1 of 30").waitFor();
  const first = await pixels();
  await page.getByRole("region", { name: /^Image \d+ of 30$/ }).focus();
  await page.keyboard.press("PageDown");
  await page.getByText("Image 11 of 30").waitFor();
  await page.getByText("frame 11 of 30").waitFor();
  await drawn(11);
  assert.notEqual((await pixels()).hash, first.hash, "another frame, another image");
  assert.deepEqual(problems, []);
});

test("once the patient revokes the share, the doctor's open viewer and the viewer opened again refuse in words", async () => {
  await page.getByRole("navigation", { name: "Series" }).getByRole("button").nth(0).click();
  await drawn(1);
  const jane = await apiSignIn("jane@example.org");
  await call(jane, "DELETE", `/v1/studies/${token}/shares/dr%40clinic.example`);
  // The open viewer: its next request (a new window on the CT, rendered by the API) is
  // refused. Roles read from the chain are cached for a few seconds, so drag again until
  // then (bounded).
  const refusal = page.getByRole("alert").filter({ hasText: "You cannot view this study." });
  const stage = page.getByRole("region", { name: /^Image \d+ of 6$/ });
  const box = await stage.boundingBox();
  for (let i = 1; i <= 30 && !(await refusal.isVisible()); i++) {
    await page.mouse.move(box.x + 100, box.y + 100);
    await page.mouse.down();
    await page.mouse.move(box.x + 100 + 7 * i, box.y + 100, { steps: 2 });
    await page.mouse.up();
    await page.waitForTimeout(500);
  }
  await refusal.waitFor();
  assert.equal(await page.locator("canvas.frame").count(), 0);
  // Opened again: the study is no longer listed for the doctor.
  await page.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
  await page.getByRole("heading", { level: 1, name: `Study #${token}` }).waitFor();
  await page.evaluate((t) => (window.location.hash = `#/studies/${t}/view`), token);
  await page.getByRole("heading", { level: 1, name: `Viewer: study #${token}` }).waitFor();
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /revoked or has ended/);
  assert.equal(await page.locator("canvas.frame").count(), 0);
  await shot(page, "viewer-refused");
  assert.deepEqual(problems, []);
});
