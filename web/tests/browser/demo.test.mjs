// A newcomer's first minutes: `medimint up --demo` prints the web app's URL and sign-in
// codes; the printed code signs the demo patient in, and her study waits for consent.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { axe, launch, shot, startUp } from "./harness.mjs";

let up;
let browser;

after(async () => {
  await browser?.close();
  await up?.stop();
});

test("up --demo prints the URL and codes that sign the demo patient in", async () => {
  up = await startUp(["--demo"]);
  const open = up.printed.find((l) => l.startsWith("open:"));
  assert.equal(open, `open:          ${up.base}/`);
  const line = up.printed.find((l) => l.startsWith("sign in:") && l.includes("jane@example.org"));
  assert.ok(line, up.printed.join("\n"));
  assert.ok(up.printed.some((l) => l.startsWith("sign in:") && l.includes("dr@clinic.example")));
  const code = /with code (\d{6})/.exec(line)[1];
  browser = await launch();
  const page = await browser.newPage();
  await page.goto(`${up.base}/`);
  await page.getByLabel("Email", { exact: true }).fill("jane@example.org");
  // Asking for a code would replace the printed one: use it as it is.
  await page.getByRole("button", { name: "I already have a code" }).click();
  await page.getByLabel("Code from the email").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Studies" }).waitFor();
  await page.getByRole("link", { name: /^Waiting for consent 1$/ }).click();
  await page.getByRole("link", { name: /^Study #\d+$/ }).click();
  await page.getByRole("heading", { name: "Your consent" }).waitFor();
});

test("the public explorer shows the demo's figures without signing in", async () => {
  // The index follows the chain every second: wait until it holds the demo's release.
  let totals;
  for (let i = 0; i < 60; i++) {
    totals = await (await fetch(`${up.base}/v1/explorer/totals`)).json();
    if (totals.totals.releases >= 1 && totals.issuers >= 1) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(totals.totals.releases >= 1, JSON.stringify(totals));
  const issuers = await (await fetch(`${up.base}/v1/explorer/issuers`)).json();
  const page = await (await browser.newContext()).newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`${up.base}/`);
  await page.getByRole("link", { name: "Public explorer" }).click();
  await page.getByRole("heading", { level: 1, name: "Public explorer" }).waitFor();
  // The totals as the API counts them, each under its words.
  const shown = async (kind) => Number(await page.locator(`.tally [data-kind="${kind}"] dd`).textContent());
  assert.equal(await shown("releases"), totals.totals.releases);
  assert.equal(await shown("consents"), totals.totals.consents);
  assert.equal(await shown("issuers"), totals.issuers);
  // Today's row holds the release; the issuer's public profile is listed.
  const today = new Date().toISOString().slice(0, 10);
  const row = page.locator(`tr[data-day="${today}"]`);
  assert.equal(Number(await row.locator("td").first().textContent()), totals.totals.releases);
  assert.ok(issuers.length >= 1);
  await page.getByRole("cell", { name: issuers[0].name, exact: true }).waitFor();
  // The demo study's timeline by its token id: the release, with its transaction.
  const id = /token (\d+)/.exec(up.printed.find((l) => l.startsWith("demo study:")) ?? "")?.[1];
  assert.ok(id, up.printed.join("\n"));
  await page.getByLabel("Token id").fill(id);
  await page.getByRole("button", { name: "Show its timeline" }).click();
  const card = page.locator(`[data-token="${id}"]`);
  await card.locator('.timeline li[data-kind="release_proposed"]').waitFor();
  assert.match(await card.textContent(), /Status\s*pending/);
  assert.match(await card.locator(".timeline").textContent(), /transaction [0-9a-f]{64}/);
  // An id that is not a number is refused before asking.
  await page.getByLabel("Token id").fill("one");
  await page.getByRole("button", { name: "Show its timeline" }).click();
  await page.getByRole("alert").filter({ hasText: "A token id is a whole number" }).waitFor();
  const violations = await axe(page);
  assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
  await shot(page, "explorer");
  assert.deepEqual(problems, []);
});
