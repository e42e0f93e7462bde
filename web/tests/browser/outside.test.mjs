// Share links in Chromium against a real `medimint up`: the patient makes a link on the study
// page (link, passcode, QR code); a doctor without an account opens it (a wrong passcode is
// refused in words), downloads a file byte-for-byte; the patient sees the opening and
// revokes, and the doctor's next download is refused. No secret stays in the address bar or
// in browser storage. Every screen passes axe-core.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { execFileSync } from "node:child_process";
import { launch, makeStudy, medimintBin, screen, sha256, signIn as signInAs, startUp, watch } from "./harness.mjs";

let up;
let browser;
let work;
let token;
let studyDir;
let link;
let passcode;
let patient;
let doctor;
const problems = [];

before(async () => {
  up = await startUp();
  browser = await launch();
  work = mkdtempSync(join(tmpdir(), "medimint-web-links-"));
});

after(async () => {
  await browser?.close();
  await up?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function user(name) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  watch(page, name, problems);
  return { context, page };
}

const signIn = (page, email) => signInAs(page, up, email);

test("a released, approved study of Jane's (through the CLI)", () => {
  up.cli(
    "issuer", "add", "--email", "pacs@general.example", "--name", "General Hospital", "--kind", "hospital",
    "--jurisdiction", "US-CA", "--evidence", "NPI 1234567890",
  );
  studyDir = makeStudy(join(work, "export"), "DOE^JANE", "19800102", "MRN-7");
  const released = up.cli(
    "release", studyDir, "--patient-email", "jane@example.org", "--patient-name", "DOE^JANE",
    "--birth-date", "1980-01-02", "--patient-id", "MRN-7",
  );
  token = Number(JSON.stringify(released).match(/"token_id":"?(\d+)/)[1]);
  up.cli("consent", "approve", "--token", String(token), "--as", "jane@example.org");
});

test("the patient makes a share link: the link, the passcode and its QR code", async () => {
  patient = await user("patient");
  const { page } = patient;
  await signIn(page, "jane@example.org");
  await page.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
  await page.getByRole("heading", { name: "Share links" }).waitFor();
  await page.getByLabel("Openings allowed").fill("3");
  await page.getByRole("button", { name: "Create a share link" }).click();
  await page.getByRole("heading", { name: "Your new link" }).waitFor({ timeout: 60_000 });
  link = (await page.locator("code.shlink").textContent()).trim();
  passcode = (await page.locator("strong.passcode").textContent()).trim();
  assert.match(link, /\/#shlink:\/[A-Za-z0-9_-]+$/);
  assert.equal(passcode.length, 10);
  assert.ok(!link.includes(passcode) && !/DOE|JANE|MRN/.test(link), "no passcode or PHI in the link");
  await page.getByRole("img", { name: "QR code of the share link" }).waitFor();
  await screen(page, "21-patient-share-link");
});

test("the doctor opens the link with the passcode and downloads a file byte-for-byte", async () => {
  doctor = await user("doctor");
  const { page } = doctor;
  await page.goto(link);
  await page.getByRole("heading", { level: 1, name: "A study shared with you" }).waitFor();
  // The link's key left the address bar at once.
  assert.equal(await page.evaluate(() => window.location.hash), "");
  await screen(page, "22-link-passcode");
  await page.getByLabel("Passcode").fill("WRONG-PASS");
  await page.getByRole("button", { name: "Open the study" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.textContent(), /wrong passcode; 4 tries left/);
  const accesses = () => up.cli("history", "--token", String(token)).filter((e) => /access/.test(e.kind)).length;
  const before = accesses();
  await page.getByLabel("Passcode").fill(passcode);
  await page.getByRole("button", { name: "Open the study" }).click();
  await page.getByRole("heading", { name: `Study #${token}` }).waitFor({ timeout: 60_000 });
  // The opening is an access record on chain.
  for (let i = 0; i < 100 && accesses() <= before; i++) await page.waitForTimeout(100);
  assert.ok(accesses() > before, "the opening is recorded on chain");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download S01/IM1.dcm" }).click(),
  ]);
  const got = readFileSync(await download.path());
  assert.equal(sha256(got), sha256(readFileSync(join(studyDir, "S01", "IM1.dcm"))));
  await screen(page, "23-link-files");
  const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  assert.deepEqual(stored, [0, 0, ""], "nothing in browser storage");
  assert.ok(!page.url().includes(passcode));
});

test("the patient sees the opening and revokes; the doctor's next download is refused", async () => {
  const { page } = patient;
  await page.reload();
  await page.getByRole("cell", { name: /^1 of 3/ }).waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: /^Revoke link / }).click();
  await page.getByText(/^The link was revoked/).waitFor({ timeout: 60_000 });
  await page.getByRole("cell", { name: "revoked" }).waitFor();
  const d = doctor.page;
  await d.getByRole("button", { name: "Download S01/IM2.dcm" }).click();
  await d.getByRole("alert").filter({ hasText: /share link was revoked or has expired/ }).waitFor();
  await screen(d, "24-link-revoked");
  assert.deepEqual(problems, []);
});

const inTwoDays = () => {
  const d = new Date(Date.now() + 2 * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};

/** A records request for `family`^JANE by the hospital, uploaded through its page by an institution. */
async function requestAndUpload(family, shotName) {
  const made = up.cli(
    "request", "create", "--as", "pacs@general.example", "--patient-email", "jane@example.org",
    "--family-name", family, "--given-names", "JANE", "--birth-date", "1980-01-02", "--patient-id", "MRN-7",
    "--requested", "CT and MR, 2025", "--institution", "Valley Imaging", "--deadline", inTwoDays(),
    "--api-url", up.base,
  );
  assert.ok(!made.upload_url.includes(made.code), "the code is not in the link");
  const dir = makeStudy(join(work, `request-${family}`), "DOE^JANE", "19800102", "MRN-7");
  const { page } = await user(`institution-${family}`);
  await page.goto(made.upload_url);
  await page.getByRole("heading", { level: 1, name: "Records request" }).waitFor();
  assert.equal(await page.evaluate(() => window.location.hash), "");
  await page.getByLabel("Access code").fill(made.code);
  await page.getByRole("button", { name: "Open the request" }).click();
  await page.getByText("CT and MR, 2025").waitFor({ timeout: 30_000 });
  await page.getByLabel("DICOM files").setInputFiles([join(dir, "S01", "IM1.dcm"), join(dir, "S01", "IM2.dcm")]);
  if (shotName) await screen(page, shotName);
  await page.getByRole("button", { name: "Upload and send" }).click();
  await page.getByText(/^Uploaded 2 files/).waitFor({ timeout: 60_000 });
  assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0]);
  const id = made.request.id;
  let shown;
  for (let i = 0; i < 600; i++) {
    shown = up.cli("request", "show", "--id", id, "--as", "pacs@general.example");
    if (shown.release && ["released", "refused"].includes(shown.release.status)) break;
    await page.waitForTimeout(200);
  }
  return shown;
}

test("an institution uploads through a records request's page; the study reaches Jane pending consent", async () => {
  const shown = await requestAndUpload("DOE", "25-request-upload");
  assert.equal(shown.release.status, "released", JSON.stringify(shown));
  assert.equal(shown.release.release_id, shown.request.id, "the request id is the release's");
  const access = up.cli("access", "--token", shown.release.token_id);
  const issuers = up.cli("issuer", "list");
  assert.ok(JSON.stringify(issuers).includes(access.issuer), "the requesting issuer is the issuer");
  assert.equal(access.status, "Pending");
  const jane = up.cli("access", "--token", String(token)).owner;
  assert.equal(access.owner, jane, "released to Jane");
});

test("a records request naming another patient is refused with a report", async () => {
  const shown = await requestAndUpload("ROE");
  assert.equal(shown.release.status, "refused", JSON.stringify(shown));
  assert.ok(shown.release.refusal.problems.some((p) => p.code === "patient_name_mismatch"), JSON.stringify(shown.release.refusal));
  assert.deepEqual(problems, []);
});

test("the issuer asks for records in the web app: the link and the code are shown once, the request is listed", async () => {
  const { page } = await user("issuer");
  await signIn(page, "pacs@general.example");
  await page.getByRole("link", { name: "Records requests" }).click();
  await page.getByRole("heading", { level: 1, name: "Records requests" }).waitFor();
  await page.getByLabel("Patient's email").fill("jane@example.org");
  await page.getByLabel("Family name (as in the DICOM headers)").fill("DOE");
  await page.getByLabel("Given names", { exact: true }).fill("JANE");
  await page.getByLabel("Birth date", { exact: true }).fill("1980-01-02");
  await page.getByLabel("Patient id at the institution").fill("MRN-7");
  await page.getByLabel("What is requested").fill("Chest X-ray, 2024");
  await page.getByLabel("Institution", { exact: true }).fill("Hill Clinic");
  await page.getByLabel("Deadline", { exact: true }).fill(inTwoDays());
  await page.getByRole("button", { name: "Create the request" }).click();
  await page.getByText(/^Request rr-/).waitFor({ timeout: 60_000 });
  const url = (await page.locator("code.secret").textContent()).trim();
  const code = (await page.locator("strong.passcode").textContent()).trim();
  assert.match(url, /\/#\/request\/rr-[0-9a-f]{64}\/[0-9a-f]{64}$/);
  assert.equal(code.length, 10);
  assert.ok(!/DOE|JANE|MRN|jane@/.test(url), "no PHI in the link");
  await page.getByRole("cell", { name: "Waiting for the institution" }).first().waitFor();
  await screen(page, "26-issuer-records-requests");
});

test("the CLI: link create, list, open (the passcode on standard input) and revoke", () => {
  const rpc = up.printed.find((l) => l.startsWith("rpc url:")).split(/\s+/).pop();
  const env = { ...process.env, MEDIMINT_DATA_DIR: up.data, MEDIMINT_RPC_URL: rpc };
  const made = up.cli("link", "create", "--token", String(token), "--until", inTwoDays(), "--uses", "2", "--api-url", up.base, "--as", "jane@example.org");
  assert.match(made.shlink, /^shlink:\//);
  assert.equal(made.passcode.length, 10);
  const out = join(work, "cli-open");
  // The passcode never goes on the command line: standard input.
  const opened = JSON.parse(
    execFileSync(medimintBin(), ["link", "open", made.shlink, "--out", out, "--json"], { env, input: `${made.passcode}\n`, encoding: "utf8" }),
  );
  assert.equal(opened.files, 4);
  assert.equal(
    sha256(readFileSync(join(out, "S02", "IM2.dcm"))),
    sha256(readFileSync(join(studyDir, "S02", "IM2.dcm"))),
  );
  assert.equal(readdirSync(join(out, "S01")).length, 2);
  const listed = up.cli("link", "list", "--token", String(token), "--as", "jane@example.org");
  const mine = listed.find((l) => l.id === made.link.id);
  assert.equal(mine.uses, 1);
  assert.ok(listed.some((l) => l.status === "revoked"), "the browser's revoked link is listed too");
  const revoked = up.cli("link", "revoke", "--token", String(token), "--id", made.link.id, "--as", "jane@example.org");
  assert.equal(revoked.status, "revoked");
  assert.throws(
    () => execFileSync(medimintBin(), ["link", "open", made.shlink, "--out", join(work, "cli-again")], { env, input: `${made.passcode}\n`, stdio: ["pipe", "pipe", "pipe"] }),
    (e) => /revoked by the patient/.test(String(e.stderr)),
  );
});
