// A newcomer's first minutes: `medimint up --demo` prints the web app's URL and sign-in
// codes; the printed code signs the demo patient in, and her study waits for consent.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { launch, startUp } from "./harness.mjs";

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
