// A wallet (SEP-10) account consents in Chromium against a real `medimint up`: the API
// answers 202 with the authorization entry; the page shows what is signed and asks the
// wallet found as `window.freighterApi` (a stand-in whose signAuthEntry signs with a key only
// this test holds, in Node, as Freighter would in its extension). Signed by another key
// first: refused in words (400 for the bare signature; 403 naming the account for a whole
// signed entry pasted in the page, made by stellar-sdk's authorizeEntry); too late, after
// the entry's expiration ledger: refused as expired (410), "Start again" asks for a new
// entry; then signed by the account's own key: submitted, the study is active. The same signed authorization submitted again is refused as used (409).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Keypair, TransactionBuilder, authorizeEntry, xdr } from "@stellar/stellar-sdk";
import { axe, launch, makeStudy, shot, startUp } from "./harness.mjs";

let up;
let browser;
let work;
let token;
const wallet = Keypair.random();
const stranger = Keypair.random();
const problems = [];

before(async () => {
  up = await startUp();
  browser = await launch();
  work = mkdtempSync(join(tmpdir(), "medimint-web-wallet-"));
});

after(async () => {
  await browser?.close();
  await up?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("a patient whose account is an external wallet has a release waiting for consent", async () => {
  // The wallet's Stellar account exists (its owner funds it; here the devnet's friendbot).
  const rpc = up.printed.find((l) => l.startsWith("rpc url:")).split(/\s+/).pop();
  const funded = await fetch(`${rpc}/friendbot?addr=${wallet.publicKey()}`);
  assert.equal(funded.status, 200, await funded.text());
  // Her email is linked to the wallet's address (only its public key is known), as the
  // router test `api_wallet_signing` does: MediMint holds no key for her.
  execFileSync("python3", [
    "-c",
    "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); c.execute('INSERT INTO accounts (email,address,custody,hd_index,created_at) VALUES (?,?,?,NULL,?)', (sys.argv[2], sys.argv[3], 'external', int(time.time()))); c.commit()",
    join(up.data, "medimint.sqlite3"),
    "wally@example.org",
    wallet.publicKey(),
  ]);
  const { issuer } = up.cli(
    "issuer", "add", "--email", "pacs@general.example", "--name", "General Hospital", "--kind", "hospital",
    "--jurisdiction", "US-CA", "--evidence", "NPI 1234567890",
  );
  const dir = makeStudy(join(work, "export"), "WALL^Y", "19700101", "MRN-W");
  const released = up.cli(
    "release", dir, "--issuer", issuer, "--patient-email", "wally@example.org", "--patient-name", "WALL^Y",
    "--birth-date", "1970-01-01", "--patient-id", "MRN-W",
  );
  token = Number(JSON.stringify(released).match(/"token_id":"?(\d+)/)[1]);
  assert.equal(up.cli("access", "--token", String(token)).owner, wallet.publicKey());
});

test("she approves in the web app: the wallet signs the entry; another key's signature is refused first", async () => {
  // SEP-10 sign-in signed here, the session carried into the browser by the refresh cookie.
  const challenge = await (await fetch(`${up.base}/auth?account=${wallet.publicKey()}`)).json();
  const tx = TransactionBuilder.fromXDR(challenge.transaction, challenge.network_passphrase);
  tx.sign(wallet);
  const res = await fetch(`${up.base}/auth`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ transaction: tx.toXDR() }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const bearer = (await res.json()).token;
  const cookie = /medimint_refresh=([^;]+)/.exec(res.headers.get("set-cookie") ?? "");
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.addCookies([
    { name: "medimint_refresh", value: cookie[1], domain: "127.0.0.1", path: "/auth", httpOnly: true, secure: true, sameSite: "Strict" },
  ]);
  // The wallet stand-in: the page sees `window.freighterApi.signAuthEntry`; the key stays in Node.
  let key = stranger;
  const asked = [];
  const signatures = [];
  await context.exposeFunction("__testWalletSign", (preimage, opts) => {
    asked.push({ preimage, opts });
    const sig = key.sign(createHash("sha256").update(Buffer.from(preimage, "base64")).digest()).toString("base64");
    signatures.push(sig);
    return { signedAuthEntry: sig, signerAddress: key.publicKey() };
  });
  await context.addInitScript(() => {
    window.freighterApi = { signAuthEntry: (xdr, opts) => window.__testWalletSign(xdr, opts) };
  });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  let issued;
  page.on("response", async (r) => {
    if (r.url().endsWith(`/v1/studies/${token}/consent`) && r.status() === 202) issued = (await r.json()).authorization;
  });
  await page.goto(`${up.base}/#/studies/${token}`);
  await page.getByRole("heading", { level: 2, name: "Your consent" }).waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: "Approve" }).click();
  // The 202: what is signed, in words, and by whom.
  const panel = page.getByRole("region", { name: "Sign with your wallet" });
  await panel.waitFor({ timeout: 60_000 });
  for (let i = 0; i < 100 && !issued; i++) await page.waitForTimeout(50);
  const text = await panel.textContent();
  assert.match(text, new RegExp(`Approve the release of study #${token} to you`));
  assert.ok(text.includes(wallet.publicKey()), "the signing address is shown");
  assert.match(text, /approve_release/);
  const violations = await axe(page);
  assert.deepEqual(violations, [], `axe: ${JSON.stringify(violations, null, 1)}`);
  await shot(page, "40-wallet-sign");
  // The wallet signs with another key: the bare signature does not verify for the account (400).
  await panel.getByRole("button", { name: "Sign with Freighter" }).click();
  await panel.getByRole("alert").filter({ hasText: /^The signature was not accepted: / }).waitFor({ timeout: 60_000 });
  assert.equal(asked.length, 1);
  assert.equal(asked[0].preimage, issued.preimage);
  assert.equal(asked[0].opts.address, wallet.publicKey());
  assert.equal(asked[0].opts.networkPassphrase, challenge.network_passphrase);
  // Another tool's whole signed entry, pasted: signed by another key, named (403).
  const other = await authorizeEntry(
    xdr.SorobanAuthorizationEntry.fromXDR(issued.entry, "base64"),
    stranger,
    issued.signature_expiration_ledger,
    issued.network_passphrase,
  );
  await panel.getByText("Sign with another wallet or tool").click();
  assert.equal(await panel.getByLabel("Authorization entry to sign (base64 XDR)").inputValue(), issued.entry);
  await panel.getByLabel("Signed entry, or the signature (base64 or hex)").fill(other.toXDR("base64"));
  await panel.getByRole("button", { name: "Submit the signature" }).click();
  await panel.getByRole("alert").filter({ hasText: /signed by another key than your account's/ }).waitFor({ timeout: 60_000 });
  assert.ok((await panel.getByRole("alert").textContent()).includes(wallet.publicKey()));
  assert.equal(up.cli("access", "--token", String(token)).status, "Pending");
  // Too late: once the network passed the entry's expiration ledger (120 ledgers, here 100 ms
  // each), the submission is refused as expired (410) and the step offers to start again.
  key = wallet;
  const rpc = up.printed.find((l) => l.startsWith("rpc url:")).split(/\s+/).pop();
  const latest = async () => {
    const r = await fetch(rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getLatestLedger" }),
    });
    return (await r.json()).result.sequence;
  };
  for (let i = 0; i < 600 && (await latest()) < issued.signature_expiration_ledger; i++) await page.waitForTimeout(100);
  const expiredId = issued.id;
  await panel.getByRole("button", { name: "Sign with Freighter" }).click();
  await panel.getByRole("alert").filter({ hasText: /^This authorization expired/ }).waitFor({ timeout: 60_000 });
  await shot(page, "42-wallet-expired");
  // The account's own key on a fresh entry: submitted through the relayer; the study is
  // active. (A loaded machine may let a fresh entry expire too before it is signed: then
  // start again once more.)
  let signed = false;
  for (let attempt = 0; attempt < 3 && !signed; attempt++) {
    await panel.getByRole("button", { name: "Start again" }).click();
    const fresh = page.getByRole("region", { name: "Sign with your wallet" });
    await fresh.getByRole("button", { name: "Sign with Freighter" }).waitFor({ timeout: 60_000 });
    assert.notEqual(issued.id, expiredId, "a new entry was issued");
    await fresh.getByRole("button", { name: "Sign with Freighter" }).click();
    const outcome = await Promise.race([
      // The study reloads as active (the consent section, with the step's "Signed and
      // recorded" note, goes away with it).
      page.getByText("Active", { exact: true }).first().waitFor({ timeout: 60_000 }).then(() => "signed", () => "timeout"),
      fresh.getByRole("alert").filter({ hasText: /^This authorization expired/ }).waitFor({ timeout: 60_000 }).then(() => "expired", () => "timeout"),
    ]);
    signed = outcome === "signed";
  }
  assert.ok(signed, "signed within three fresh entries");
  assert.equal(up.cli("access", "--token", String(token)).status, "Active");
  await shot(page, "41-wallet-signed");
  // The same signed authorization again is a replay: 409 `authorization-used`.
  assert.ok(issued, "the page received the 202");
  const again = await fetch(`${up.base}/v1/authorizations/${issued.id}/submit`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify({ signature: signatures.at(-1) }),
  });
  const problem = await again.json();
  assert.equal(again.status, 409, JSON.stringify(problem));
  assert.equal(problem.type, "urn:medimint:problem:authorization-used");
  assert.deepEqual(problems, []);
});
