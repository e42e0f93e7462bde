// Fails when src/api/schema.d.ts is not what openapi-typescript generates from
// docs/openapi.json (regenerate with `npm run gen:api`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "api-types-"));
try {
  const out = join(dir, "schema.d.ts");
  execFileSync(join(web, "node_modules", ".bin", "openapi-typescript"), [join(web, "..", "docs", "openapi.json"), "-o", out], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const want = readFileSync(out, "utf8");
  const have = readFileSync(join(web, "src", "api", "schema.d.ts"), "utf8");
  if (want !== have) {
    console.error("check-api-types: web/src/api/schema.d.ts does not match docs/openapi.json: run `npm run gen:api` in web/ and fix what no longer type-checks");
    process.exit(1);
  }
  console.log("check-api-types: web/src/api/schema.d.ts matches docs/openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
