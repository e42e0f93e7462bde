// The web app in Chromium against a real `medimint up`: the mission as an issuer, a patient
// and a doctor in three browser contexts; the authenticator and recovery codes; a wrong
// code and the lockout; a session ended elsewhere and the idle logoff. Every screen is
// scanned with axe-core (no serious or critical violation) and its screenshot saved in
// web/test-results/screens/.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";
import { execFileSync } from "node:child_process";
import { Keypair, TransactionBuilder } from "@stellar/stellar-sdk";
import { launch, makeStudy, medimintBin, requestCode, screen, sha256, signIn as signInAs, startUp, totp, watch } from "./harness.mjs";

let up;
let browser;
let work;
let token;
let studyDir;
const problems = [];
const pages = [];

before(async () => {
  up = await startUp();
  browser = await launch();
  work = mkdtempSync(join(tmpdir(), "medimint-web-test-"));
});

after(async () => {
  await browser?.close();
  await up?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A new browser context (a user) with a page watching for CSP violations and errors. */
async function user(name, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  watch(page, name, problems);
  pages.push(page);
  return { context, page };
}

const signIn = (page, email) => signInAs(page, up, email);

async function openStudy(page, tab, id) {
  await page.getByRole("link", { name: "My studies" }).click();
  await page.getByRole("link", { name: new RegExp(`^${tab}`) }).click();
  await page.getByRole("link", { name: `Study #${id}` }).click();
  await page.getByRole("heading", { level: 1, name: `Study #${id}` }).waitFor();
}

const tomorrow = () => {
  const d = new Date(Date.now() + 2 * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};

let patient;
let doctor;
let issuerUser;

test("the sign-in screen is served with a strict CSP and passes axe", async () => {
  const res = await fetch(`${up.base}/`);
  const csp = res.headers.get("content-security-policy");
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  patient = await user("patient");
  await patient.page.goto(`${up.base}/`);
  await patient.page.getByRole("heading", { name: "Sign in to MediMint" }).waitFor();
  await screen(patient.page, "01-sign-in");
  // Keyboard: the heading has focus, Tab reaches the email field, then its button; Enter
  // in the field submits the form.
  const focused = () => patient.page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent);
  assert.equal(await focused(), "Sign in to MediMint");
  await patient.page.keyboard.press("Tab");
  assert.equal(await focused(), "email");
  await patient.page.keyboard.press("Tab");
  assert.equal(await focused(), "Send me a code");
  await patient.page.keyboard.press("Shift+Tab");
  await patient.page.keyboard.type("keyboard@example.org");
  await patient.page.keyboard.press("Enter");
  await patient.page.getByLabel("Code from the email").waitFor();
});

/** The issuer uploads the study folder for a patient; resolves with the release's page text. */
async function upload(page, family) {
  await page.getByRole("link", { name: "Releases", exact: true }).click();
  await page.getByRole("link", { name: "Upload a study" }).click();
  await page.getByRole("heading", { level: 1, name: "Upload a study" }).waitFor();
  await page.getByLabel("Study folder").setInputFiles(studyDir);
  await page.getByText("4 files,").waitFor();
  await page.getByLabel("Patient's email (their MediMint account)").fill("jane@example.org");
  await page.getByLabel("Family name").fill(family);
  await page.getByLabel("Given names").fill("JANE");
  await page.getByLabel("Birth date").fill("1980-01-02");
  await page.getByLabel("Patient id (MRN)").fill("MRN-7");
  await page.getByRole("button", { name: "Upload and release" }).click();
  await page.getByRole("heading", { level: 1, name: /^Release / }).waitFor({ timeout: 60_000 });
  await page.locator('[data-status="released"], [data-status="refused"]').waitFor({ timeout: 120_000 });
}

test("the issuer uploads through the browser: a wrong patient is refused in words, then the study is released", async () => {
  up.cli(
    "issuer", "add", "--email", "pacs@general.example", "--name", "General Hospital", "--kind", "hospital",
    "--jurisdiction", "US-CA", "--evidence", "NPI 1234567890",
  );
  studyDir = makeStudy(join(work, "export"), "DOE^JANE", "19800102", "MRN-7");
  issuerUser = await user("issuer");
  const { page } = issuerUser;
  await signIn(page, "pacs@general.example");
  await page.getByRole("link", { name: "Releases", exact: true }).click();
  await page.getByRole("link", { name: "Upload a study" }).click();
  await page.getByRole("heading", { level: 1, name: "Upload a study" }).waitFor();
  await screen(page, "02-issuer-upload");
  // The headers name DOE^JANE: a release for ROE^JANE is refused, with the report in words.
  await upload(page, "ROE");
  await page.getByText("The release was refused.").waitFor();
  const report = await page.getByRole("alert").textContent();
  assert.match(report, /S0[12]\/IM[12]\.dcm: /, `the report names the files: ${report}`);
  await screen(page, "03-issuer-release-refused");
  await upload(page, "DOE");
  const link = page.getByRole("link", { name: /^study #\d+$/ });
  await link.waitFor();
  token = Number((await link.textContent()).replace(/\D/g, ""));
  assert.ok(token >= 0);
  await screen(page, "04-issuer-release-released");
  await page.getByRole("link", { name: "All releases" }).click();
  await page.getByRole("cell", { name: "Refused" }).waitFor();
  await page.getByRole("cell", { name: "Released, waiting for the patient's consent" }).waitFor();
  await screen(page, "05-issuer-releases");
  await page.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
  await page.getByRole("heading", { level: 1, name: `Study #${token}` }).waitFor();
  await page.getByText("Waiting for your consent").waitFor();
});

test("the patient signs in, finds it waiting for consent and approves", async () => {
  const { page } = patient;
  await signIn(page, "jane@example.org");
  await screen(page, "06-patient-studies");
  await page.getByRole("link", { name: /^Waiting for consent/ }).click();
  await page.getByRole("link", { name: `Study #${token}` }).click();
  await page.getByRole("heading", { name: "Your consent" }).waitFor();
  await screen(page, "07-patient-consent");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.getByRole("status").filter({ hasText: "Recording your consent" }).waitFor();
  await page.getByRole("heading", { name: "Your consent" }).waitFor({ state: "detached", timeout: 60_000 });
  await page.getByText("Active", { exact: true }).waitFor();
  await page.getByRole("heading", { name: "Share this study" }).waitFor();
});

test("the patient shares with the doctor until a date", async () => {
  const { page } = patient;
  await page.getByLabel("Email or Stellar address").fill("dr@clinic.example");
  await page.getByLabel("Until (end of that day)").fill(tomorrow());
  await page.getByRole("button", { name: "Share", exact: true }).click();
  await page.getByText(/^Shared with dr@clinic.example until/).waitFor({ timeout: 60_000 });
  assert.equal(await page.getByRole("button", { name: /^Revoke access of G/ }).count(), 1);
  await screen(page, "08-patient-study");
});

test("the doctor opens the shared study, downloads every file and verifies them", async () => {
  doctor = await user("doctor");
  const { page } = doctor;
  await signIn(page, "dr@clinic.example");
  await page.getByRole("link", { name: /^Shared with me/ }).click();
  await page.getByRole("link", { name: `Study #${token}` }).waitFor();
  await screen(page, "09-doctor-shared");
  await page.getByRole("link", { name: `Study #${token}` }).click();
  await page.getByRole("heading", { name: "Download" }).waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download all files" }).click(),
  ]);
  const zip = join(work, "download.zip");
  await download.saveAs(zip);
  await page.getByText(/^Downloaded 4 files/).waitFor();
  // The ZIP holds the original files, byte for byte.
  const listed = execFileSync(
    "python3",
    ["-c", "import sys,zipfile,hashlib\nz=zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist(): print(i.filename, hashlib.sha256(z.read(i)).hexdigest())", zip],
    { encoding: "utf8" },
  ).trim().split("\n").sort();
  const originals = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else originals.push(`${relative(studyDir, p)} ${sha256(readFileSync(p))}`);
    }
  };
  walk(studyDir);
  assert.deepEqual(listed, originals.sort());
  // Verify: the originals match; a changed copy differs.
  const files = originals.map((l) => join(studyDir, l.split(" ")[0]));
  await page.getByLabel("Files to verify").setInputFiles(files);
  await page.getByText("Your files are exactly the study as released.").waitFor();
  await screen(page, "10-doctor-study-verified");
  const changed = join(work, "IM1.dcm");
  const bytes = readFileSync(files[0]);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(changed, bytes);
  await page.getByLabel("Files to verify").setInputFiles([changed]);
  await page.getByText("Your files differ from the study as released.").waitFor();
  await page.getByText("1 differing: IM1.dcm").waitFor();
});

test("the patient revokes; the doctor is refused, in words", async () => {
  await patient.page.getByRole("button", { name: /^Revoke access of G/ }).click();
  await patient.page.getByText("Access revoked.").waitFor({ timeout: 60_000 });
  const { page } = doctor;
  await page.getByRole("button", { name: "Download all files" }).click();
  await page.getByRole("alert").filter({ hasText: /./ }).waitFor();
  // The API caches roles read from the chain for a few seconds: open the study again until
  // the page says it is no longer available (bounded).
  const refused = page.getByText("This study is not available to you.", { exact: false });
  for (let i = 0; i < 20 && !(await refused.isVisible()); i++) {
    await page.getByRole("link", { name: "My studies" }).click();
    await page.getByRole("heading", { level: 1, name: "Studies" }).waitFor();
    await page.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
    await page.getByRole("heading", { level: 1, name: `Study #${token}` }).waitFor();
    await page.getByText(/This study is not available to you|About/).first().waitFor();
    if (!(await refused.isVisible())) await page.waitForTimeout(1000);
  }
  await refused.waitFor();
  await screen(page, "11-doctor-refused");
});

test("the patient reads the history, each entry with its transaction", async () => {
  const { page } = patient;
  await openStudy(page, "Mine", token);
  await page.locator('.timeline li[data-kind="role_revoked"]').waitFor();
  const kinds = await page.locator(".timeline li").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")));
  for (const k of ["release_proposed", "release_approved", "role_granted", "access_recorded", "role_revoked"]) {
    assert.ok(kinds.includes(k), `${k} in the history: ${kinds}`);
  }
  const txs = await page.locator(".timeline .meta code").allTextContents();
  assert.ok(txs.length >= 5 && txs.every((t) => /^[0-9a-f]{64}$/.test(t)), `transaction hashes: ${txs}`);
  await page.getByRole("heading", { name: "History" }).scrollIntoViewIfNeeded();
  await screen(page, "12-patient-history");
});

test("a stranger and a non-admin are refused in words", async () => {
  const { page } = await user("stranger");
  await signIn(page, "eve@example.net");
  await page.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
  await page.getByText("This study is not available to you.", { exact: false }).waitFor();
  await page.evaluate(() => (window.location.hash = "#/issuers"));
  await page.getByRole("heading", { name: "Trusted issuers" }).waitFor();
  const alert = await page.getByRole("alert").textContent();
  assert.ok(alert && alert.length > 10, `the refusal in words: ${alert}`);
  await screen(page, "13-issuers-refused-to-a-patient");
});

test("the patient revokes with a re-key, then erases the study; its history stays", async () => {
  const { page } = patient;
  await openStudy(page, "Mine", token);
  await page.getByLabel("Email or Stellar address").fill("friend@example.org");
  await page.getByLabel("Until (end of that day)").fill(tomorrow());
  await page.getByRole("button", { name: "Share", exact: true }).click();
  await page.getByText(/^Shared with friend@example.org until/).waitFor({ timeout: 60_000 });
  await page.getByRole("button", { name: /^Revoke and re-key: G/ }).click();
  await page.getByText(/^Access revoked, and the study re-keyed: 4 files re-encrypted/).waitFor({ timeout: 120_000 });
  await screen(page, "13a-patient-rekeyed");
  // The erase button waits for the typed confirmation.
  const erase = page.getByRole("button", { name: "Erase this study" });
  assert.equal(await erase.isDisabled(), true);
  await page.getByLabel(`Type ${token} to confirm`).fill(String(token));
  await screen(page, "13b-patient-erase-confirm");
  await erase.click();
  await page.getByText("This study was erased", { exact: false }).waitFor({ timeout: 120_000 });
  await page.locator('.timeline li[data-kind="erased"]').waitFor();
  const kinds = await page.locator(".timeline li").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")));
  for (const k of ["rekeyed", "erased", "role_revoked"]) assert.ok(kinds.includes(k), `${k} in the history: ${kinds}`);
  assert.equal(await page.getByRole("heading", { name: "Download" }).count(), 0);
  await screen(page, "13c-patient-erased");
  await page.getByRole("link", { name: "My studies" }).click();
});

test("the admin (a wallet session) lists, adds, suspends, reinstates and removes issuers", async () => {
  // The suite's admin key signs in only through SEP-10. The tests' Chromium has no wallet
  // extension, so the challenge is signed here (as Freighter would) and the session reaches
  // the browser the way a reload finds it: the API's httpOnly refresh cookie.
  const [address, secret] = execFileSync(medimintBin(), ["keys", "derive", "--mnemonic-file", join(up.data, "seed"), "--index", "2147483646"], {
    encoding: "utf8",
  }).trim().split(/\s+/);
  const challenge = await (await fetch(`${up.base}/auth?account=${address}`)).json();
  const tx = TransactionBuilder.fromXDR(challenge.transaction, challenge.network_passphrase);
  tx.sign(Keypair.fromSecret(secret));
  const res = await fetch(`${up.base}/auth`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ transaction: tx.toXDR() }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const cookie = /medimint_refresh=([^;]+)/.exec(res.headers.get("set-cookie") ?? "");
  assert.ok(cookie, "the API sets the refresh cookie");
  const { context, page } = await user("admin");
  await context.addCookies([
    { name: "medimint_refresh", value: cookie[1], domain: "127.0.0.1", path: "/auth", httpOnly: true, secure: true, sameSite: "Strict" },
  ]);
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${up.base}/`);
  await page.getByRole("link", { name: "Issuers" }).click();
  await page.getByRole("heading", { level: 1, name: "Trusted issuers" }).waitFor();
  await page.getByRole("cell", { name: "General Hospital", exact: true }).waitFor();
  await page.getByLabel("Name").fill("Bay Imaging");
  await page.getByLabel("Contact email of its IT").fill("it@bay-imaging.example");
  await page.getByLabel("Kind").selectOption("imaging_centre");
  await page.getByLabel("Jurisdiction (e.g. US-CA)").fill("US-CA");
  await page.getByLabel(/^Evidence of verification/).fill("NPI 9876543210");
  await page.getByRole("button", { name: "Add issuer" }).click();
  await page.getByText(/^Added Bay Imaging as G/).waitFor({ timeout: 60_000 });
  await page.getByRole("button", { name: "Suspend Bay Imaging" }).click();
  await page.getByText("Suspended Bay Imaging.").waitFor({ timeout: 60_000 });
  await screen(page, "13-admin-issuers");
  await page.getByRole("button", { name: "Reinstate Bay Imaging" }).click();
  await page.getByText("Reinstated Bay Imaging.").waitFor({ timeout: 60_000 });
  await page.getByRole("button", { name: "Remove Bay Imaging" }).click();
  await page.getByText("Removed Bay Imaging.").waitFor({ timeout: 60_000 });
  assert.equal(await page.getByRole("cell", { name: "Bay Imaging", exact: true }).count(), 0);
});

test("the authenticator: enrolment with a QR code, recovery codes, then sign-in with it", async () => {
  const { page } = await user("mfa");
  await signIn(page, "sam@example.org");
  await page.getByRole("link", { name: "Account" }).click();
  await page.getByRole("button", { name: "Set up an authenticator" }).click();
  await page.getByRole("img", { name: "QR code for your authenticator app" }).waitFor();
  await screen(page, "14-account-totp-qr");
  const secret = (await page.locator("code.secret").textContent()).trim();
  await page.getByLabel("Code shown by the app").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByText("Your authenticator is set up.").waitFor();
  const codes = await page.locator(".codes code").allTextContents();
  assert.equal(codes.length, 10);
  await screen(page, "15-account-recovery-codes");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByText("You signed out.").waitFor();
  // Signing in again asks for the second factor; a recovery code works once.
  const code = await requestCode(page, up, "sam@example.org");
  await page.getByLabel("Code from the email").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByLabel("Authenticator code").waitFor();
  await screen(page, "16-sign-in-totp");
  await page.getByRole("button", { name: /Use a recovery code/ }).click();
  await page.getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Studies" }).waitFor();
});

test("a wrong code is refused with the tries left, then the code locks", async () => {
  const { page } = await user("wrong-code");
  const code = await requestCode(page, up, "mallory@example.net");
  const wrong = code === "000000" ? "111111" : "000000";
  const seen = [];
  const attempt = async (value) => {
    await page.getByLabel("Code from the email").fill(value);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/auth/email/verify")),
      page.getByRole("button", { name: "Sign in", exact: true }).click(),
    ]);
    await page.getByRole("button", { name: /Sign in|Send me a code/ }).first().waitFor();
    await page.waitForFunction(() => !document.querySelector("[role=status].pending"));
    const body = await res.json();
    const text = (await page.getByRole("alert").textContent()).trim();
    if (body.type.endsWith("code-invalid")) assert.equal(text, body.detail, "the API's words are shown");
    seen.push({ type: body.type.split(":").pop(), text });
  };
  for (let i = 0; i < 6 && !(await page.getByLabel("Email", { exact: true }).isVisible()); i++) {
    await attempt(wrong);
    if (i === 0) await screen(page, "17-sign-in-wrong-code");
  }
  console.log(`# wrong-code answers: ${JSON.stringify(seen)}`);
  assert.equal(seen[0].type, "code-invalid");
  assert.equal(seen.at(-1).type, "code-locked");
  assert.match(seen.at(-1).text, /^Too many wrong codes/);
  await screen(page, "18-sign-in-locked");
});

test("a session ended elsewhere sends the user back to sign-in, saying why", async () => {
  const a = await user("jane-a");
  const b = await user("jane-b");
  await signIn(a.page, "jane@example.org");
  // A reload keeps the session: the tokens were only in memory, the refresh token is in
  // the API's httpOnly cookie, which the app trades for new ones on start.
  const cookies = await a.context.cookies();
  const refresh = cookies.find((c) => c.name === "medimint_refresh");
  assert.ok(refresh && refresh.httpOnly && refresh.secure && refresh.sameSite === "Strict", JSON.stringify(cookies));
  assert.deepEqual(await a.page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0]);
  await a.page.reload();
  await a.page.getByRole("heading", { level: 1, name: "Studies" }).waitFor();
  await signIn(b.page, "jane@example.org");
  await b.page.getByRole("link", { name: "Account" }).click();
  await screen(b.page, "19-account");
  await b.page.getByRole("button", { name: "Sign out everywhere" }).click();
  await b.page.getByText("You signed out on every device.").waitFor();
  await a.page.getByRole("link", { name: /^Shared with me/ }).click();
  await a.page.getByText(/^Your session ended/).waitFor();
  await a.page.getByRole("heading", { name: "Sign in to MediMint" }).waitFor();
  await screen(a.page, "20-session-ended");
});

test("inactivity: a warning first, then the automatic sign-out", async () => {
  const { page } = await user("idle");
  await page.clock.install();
  await signIn(page, "idle@example.org");
  // Every answered request counts as activity: let the lists load first.
  await page.getByText("No studies here.").waitFor();
  await page.waitForLoadState("networkidle");
  await page.clock.fastForward("14:05");
  await page.getByRole("alertdialog", { name: "Still there?" }).waitFor();
  await screen(page, "21-idle-warning");
  await page.clock.fastForward("01:30");
  await page.getByText("You were signed out after a period of inactivity", { exact: false }).waitFor();
});

test("no CSP violation or script error on any page", () => {
  assert.deepEqual(problems, []);
});
