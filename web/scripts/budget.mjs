// The first-load JavaScript budget: the scripts web/dist/index.html loads (its module
// script and modulepreloads), gzipped, must stay within 250 KB. Lazily loaded chunks (the
// wallet) are not part of the first load. Prints the figures; exits 1 over budget.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET = 250 * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const first = [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="\/([^"]+\.js)"/g)].map((m) => m[1]);
if (first.length === 0) {
  console.error("budget: index.html loads no script: is web/dist built?");
  process.exit(1);
}
let total = 0;
for (const f of first) {
  const gz = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  total += gz;
  console.log(`budget: first load ${f}: ${(gz / 1024).toFixed(1)} KB gzipped`);
}
for (const f of readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js") && !first.includes(`assets/${f}`))) {
  const gz = gzipSync(readFileSync(join(dist, "assets", f)), { level: 9 }).length;
  console.log(`budget: lazy        assets/${f}: ${(gz / 1024).toFixed(1)} KB gzipped`);
}
const ok = total <= BUDGET;
console.log(`budget: first-load JavaScript ${(total / 1024).toFixed(1)} KB gzipped of ${BUDGET / 1024} KB: ${ok ? "within" : "OVER"} budget`);
process.exit(ok ? 0 : 1);
