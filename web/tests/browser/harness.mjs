// What the browser tests stand on: a real `medimint up` (a temp data dir, the API on a free
// port), the `medimint` CLI, Debian's Chromium through playwright-core, axe-core, and the
// sign-in codes the local mailer writes to the outbox.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const WEB = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ROOT = join(WEB, "..");
export const SHOTS = join(WEB, "test-results", "screens");

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function medimintBin() {
  const target = process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, "target");
  const bin = process.env.MEDIMINT_BIN ?? join(target, "debug", "medimint");
  if (!existsSync(bin)) throw new Error(`no medimint binary at ${bin}: run \`cargo build -p medimint-cli\` or set MEDIMINT_BIN`);
  return bin;
}

/** Starts `medimint up` in a fresh data directory; resolves when it prints "ready". */
export async function startUp(extra = []) {
  const data = mkdtempSync(join(tmpdir(), "medimint-web-"));
  const rpc = `http://127.0.0.1:${await freePort()}`;
  const env = { ...process.env, MEDIMINT_DATA_DIR: data, MEDIMINT_RPC_URL: rpc };
  const child = spawn(medimintBin(), ["up", "--ledger-ms", "100", "--poll-ms", "100", "--api-port", "0", ...extra], {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const printed = [];
  const base = await new Promise((resolve, reject) => {
    let api;
    const timer = setTimeout(() => reject(new Error("`medimint up` did not get ready in 300 s")), 300_000);
    child.on("exit", (code) => reject(new Error(`\`medimint up\` exited (${code}) before it was ready`)));
    lines.on("line", (line) => {
      const t = line.trim();
      printed.push(t);
      if (t.startsWith("api:")) api = t.slice(4).trim().split(/\s+/)[0].replace(/\/v1\/health$/, "");
      if (t === "ready") {
        clearTimeout(timer);
        resolve(api);
      }
    });
  });
  lines.on("line", () => undefined);
  const cli = (...args) =>
    JSON.parse(execFileSync(medimintBin(), [...args, "--json"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }));
  return {
    base,
    printed,
    data,
    outbox: join(data, "outbox"),
    cli,
    async stop() {
      child.kill("SIGINT");
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill("SIGKILL");
          r();
        }, 10_000);
        child.on("exit", () => {
          clearTimeout(t);
          r();
        });
      });
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** The sign-in code messages to `email` (not other mail, e.g. notifications), oldest first. */
function codeMessages(outbox, email) {
  const files = existsSync(outbox) ? readdirSync(outbox).sort() : [];
  return files
    .map((f) => readFileSync(join(outbox, f), "utf8"))
    .filter((m) => m.startsWith(`To: ${email}\nSubject: Your MediMint sign-in code\n`));
}

/** The newest sign-in code mailed to `email` (after `after` code messages were there). */
export function codeFor(outbox, email, after = 0) {
  const mine = codeMessages(outbox, email);
  if (mine.length <= after) return undefined;
  const code = mine.at(-1).split("\n\n").slice(1).join("\n").match(/\b(\d{6})\b/);
  return code ? code[1] : undefined;
}

export function messagesTo(outbox, email) {
  return codeMessages(outbox, email).length;
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a base32 secret, as an authenticator app. */
export function totp(secret, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

export function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function launch() {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

const AXE = readFileSync(join(WEB, "node_modules", "axe-core", "axe.min.js"), "utf8");

/**
 * Runs axe-core on the page (injected through the DevTools protocol, so the page's CSP
 * stays as served) and returns the serious and critical violations.
 */
export async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Saves the page's screenshot as test-results/screens/<name>.png. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Makes a study for `patient` with pydicom's test files; returns its directory. */
export function makeStudy(dir, name, birth, id) {
  execFileSync("python3", [join(WEB, "tests", "browser", "make_study.py"), dir, name, birth, id], { stdio: ["ignore", "ignore", "inherit"] });
  return dir;
}

/** Records the page's Content Security Policy refusals and uncaught errors in `problems`. */
export function watch(page, name, problems) {
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(`${name}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${name}: ${e.message}`));
}

/** Waits for the screen to settle, fails on serious or critical axe violations, saves it. */
export async function screen(page, name) {
  await page.waitForLoadState("networkidle");
  const violations = await axe(page);
  assert.deepEqual(violations, [], `${name}: axe found serious or critical violations: ${JSON.stringify(violations, null, 1)}`);
  await shot(page, name);
}

/** Asks `up` for an email code on the sign-in page and returns the code it mailed. */
export async function requestCode(page, up, email) {
  await page.goto(`${up.base}/`);
  await page.getByLabel("Email", { exact: true }).fill(email);
  const before = messagesTo(up.outbox, email);
  await page.getByRole("button", { name: "Send me a code" }).click();
  await page.getByLabel("Code from the email").waitFor();
  for (let i = 0; i < 100 && messagesTo(up.outbox, email) <= before; i++) await page.waitForTimeout(50);
  const code = codeFor(up.outbox, email, before);
  assert.ok(code, `a code for ${email} in the outbox`);
  return code;
}

/** Signs `email` in by the code `up` mailed; resolves on the Studies screen. */
export async function signIn(page, up, email) {
  const code = await requestCode(page, up, email);
  await page.getByLabel("Code from the email").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Studies" }).waitFor();
}
