// Emergency access (break-glass) and the share link's viewer in Chromium against a real
// `medimint up`: an emergency department (a trusted issuer) breaks the glass on Jane's
// study in the web app (the warning, a reason, hours, a note), Jane is mailed, and the
// department sees the study's images as a viewer; Jane finds it in her review list and
// ends it, after which the department's viewer refuses. Then a doctor without an account
// opens a share link and the page draws the study's rendered image. Every screen passes
// axe-core; no CSP violation or script error.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launch, makeStudy, screen, signIn as signInAs, startUp, watch } from "./harness.mjs";

let up;
let browser;
let work;
let token;
let ed;
let edAddress;
const problems = [];

before(async () => {
  up = await startUp();
  browser = await launch();
  work = mkdtempSync(join(tmpdir(), "medimint-web-emergency-"));
});

after(async () => {
  await browser?.close();
  await up?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function user(name) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  watch(page, name, problems);
  return { context, page };
}

const signIn = (page, email) => signInAs(page, up, email);

/** The emergency notices mailed to `email`. */
function notices(email) {
  const files = existsSync(up.outbox) ? readdirSync(up.outbox).sort() : [];
  return files
    .map((f) => readFileSync(join(up.outbox, f), "utf8"))
    .filter((m) => m.startsWith(`To: ${email}\n`) && m.includes("Emergency access"));
}

/** Waits until the viewer's canvas holds a lit, non-flat image; returns how many pixels are lit. */
async function imageDrawn(page) {
  await page.waitForFunction(
    () => {
      const c = document.querySelector("canvas.frame");
      if (!c || c.width === 0 || !c.dataset.key) return false;
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      const values = new Set();
      for (let i = 0; i < d.length; i += 4) values.add(d[i]);
      return values.size > 8;
    },
    undefined,
    { timeout: 60_000 },
  );
  return page.evaluate(() => {
    const c = document.querySelector("canvas.frame");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 48) lit++;
    return lit;
  });
}

test("Jane's approved study, and a county emergency department as a trusted issuer (CLI)", () => {
  const general = up.cli(
    "issuer", "add", "--email", "pacs@general.example", "--name", "General Hospital", "--kind", "hospital",
    "--jurisdiction", "US-CA", "--evidence", "NPI 1234567890",
  ).issuer;
  edAddress = up.cli(
    "issuer", "add", "--email", "ed@county.example", "--name", "County Emergency", "--kind", "hospital",
    "--jurisdiction", "US-CA", "--evidence", "NPI 1987654320",
  ).issuer;
  assert.match(edAddress, /^G[A-Z2-7]{55}$/);
  const dir = makeStudy(join(work, "export"), "DOE^JANE", "19800102", "MRN-7");
  const released = up.cli(
    "release", dir, "--issuer", general, "--patient-email", "jane@example.org", "--patient-name", "DOE^JANE",
    "--birth-date", "1980-01-02", "--patient-id", "MRN-7",
  );
  token = Number(JSON.stringify(released).match(/"token_id":"?(\d+)/)[1]);
  up.cli("consent", "approve", "--token", String(token), "--as", "jane@example.org");
});

test("the emergency department breaks the glass in the web app and sees the study", async () => {
  ed = await user("emergency");
  const { page } = ed;
  await signIn(page, "ed@county.example");
  await page.getByRole("link", { name: "Emergency access" }).click();
  await page.getByRole("heading", { level: 1, name: "Emergency access" }).waitFor();
  // The warning says the patient is told and it is audited.
  const warning = await page.getByRole("note", { name: "Before you break the glass" }).textContent();
  assert.match(warning, /notified at once/);
  assert.match(warning, /recorded on the ledger/);
  await page.getByText("No emergency access so far.").waitFor();
  // Checked before asking: the note is required, and the field is named.
  await page.getByLabel("Study number (token id)").fill(String(token));
  await page.getByRole("button", { name: "Break the glass: open the study" }).click();
  await page.getByRole("alert").filter({ hasText: /^Note: say why/ }).waitFor();
  await page.getByLabel("Reason (recorded on the ledger)").selectOption("life_threatening");
  await page.getByLabel(/^For how many hours/).fill("2");
  await page.getByLabel(/^Why the study is needed now/).fill("Unresponsive after a fall; prior head CT needed now.");
  await page.getByLabel(/^I confirm this is an emergency/).check();
  await screen(page, "30-emergency-form");
  const mailed = notices("jane@example.org").length;
  await page.getByRole("button", { name: "Break the glass: open the study" }).click();
  await page.getByText(new RegExp(`^Study #${token} is open to you as a viewer until`)).waitFor({ timeout: 60_000 });
  // The patient was mailed at once: the study and the reason, not the note.
  const mail = notices("jane@example.org");
  assert.equal(mail.length, mailed + 1);
  assert.match(mail.at(-1), new RegExp(`study #${token}`));
  assert.match(mail.at(-1), /life threatening/);
  assert.ok(!/head CT|DOE|JANE/.test(mail.at(-1)), "no note and no PHI in the notice");
  // Listed for the issuer too, active.
  await page.getByRole("cell", { name: "Active" }).waitFor({ timeout: 30_000 });
  await screen(page, "31-emergency-opened");
  // The study opens in the viewer, as a viewer.
  await page.getByRole("link", { name: "View the images" }).click();
  await page.getByRole("heading", { level: 1, name: `Viewer: study #${token}` }).waitFor();
  assert.ok((await imageDrawn(page)) > 100, "a lit image is drawn");
  await screen(page, "32-emergency-viewer");
});

test("the patient finds it in her review list with the note and ends it; the department's viewer refuses", async () => {
  const { page } = await user("patient");
  await signIn(page, "jane@example.org");
  await page.getByRole("link", { name: "Emergency access" }).click();
  await page.getByRole("heading", { level: 2, name: "Emergency accesses to review" }).waitFor();
  // A patient gets no break-glass form.
  assert.equal(await page.getByRole("button", { name: /Break the glass/ }).count(), 0);
  const row = page.getByRole("row").filter({ hasText: `#${token}` });
  await row.getByRole("cell", { name: "Active" }).waitFor({ timeout: 30_000 });
  assert.match(await row.textContent(), /A life-threatening condition/);
  assert.match(await row.textContent(), /prior head CT needed now/);
  assert.ok((await row.textContent()).includes(edAddress), "who opened it");
  await screen(page, "33-emergency-review");
  await row.getByRole("button", { name: `End access of ${edAddress} to study #${token}` }).click();
  await page.getByText(`The emergency access to study #${token} ended.`).waitFor({ timeout: 60_000 });
  await row.getByRole("cell", { name: "Ended early" }).waitFor();
  assert.equal(await row.getByRole("button", { name: /^End access/ }).count(), 0);
  // The department's viewer refuses once the access ended.
  const d = ed.page;
  await d.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
  await d.evaluate((t) => (window.location.hash = `#/studies/${t}/view`), token);
  await d.getByText("You cannot view this study.").waitFor({ timeout: 30_000 });
});

test("a share link's page draws the study's rendered image for a doctor without an account", async () => {
  const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
  const day = `${inTwoDays.getFullYear()}-${String(inTwoDays.getMonth() + 1).padStart(2, "0")}-${String(inTwoDays.getDate()).padStart(2, "0")}`;
  const made = up.cli(
    "link", "create", "--token", String(token), "--until", day, "--uses", "2", "--api-url", up.base, "--as", "jane@example.org",
  );
  const { page } = await user("doctor");
  await page.goto(made.viewer_url);
  await page.getByRole("heading", { level: 1, name: "A study shared with you" }).waitFor();
  await page.getByLabel("Passcode").fill(made.passcode);
  await page.getByRole("button", { name: "Open the study" }).click();
  await page.getByRole("heading", { name: `Study #${token}` }).waitFor({ timeout: 60_000 });
  // The viewer, under the link's read-only session: series and a drawn image.
  await page.getByRole("heading", { level: 2, name: "Images" }).waitFor({ timeout: 30_000 });
  await page.getByRole("navigation", { name: "Series" }).getByRole("button").first().waitFor({ timeout: 30_000 });
  assert.ok((await imageDrawn(page)) > 100, "a lit image is drawn");
  // The downloads are still there.
  await page.getByRole("button", { name: "Download S01/IM1.dcm" }).waitFor();
  await screen(page, "34-link-viewer");
  assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, ""]);
  assert.deepEqual(problems, []);
});
