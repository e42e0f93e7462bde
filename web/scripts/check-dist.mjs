// Rebuilds the app into a temporary directory and fails when it differs from the checked-in
// web/dist (which `medimint` embeds): run `npm run build` in web/ and commit web/dist.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = mkdtempSync(join(tmpdir(), "web-dist-"));

function files(dir) {
  const all = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else all.push(relative(dir, p));
    }
  };
  walk(dir);
  return all.sort();
}

try {
  await build({ root: web, logLevel: "warn", build: { outDir: out, emptyOutDir: true } });
  const want = files(out);
  const have = files(join(web, "dist"));
  const differ = [
    ...want.filter((f) => !have.includes(f)).map((f) => `missing from web/dist: ${f}`),
    ...have.filter((f) => !want.includes(f)).map((f) => `not built any more: web/dist/${f}`),
    ...want
      .filter((f) => have.includes(f) && !readFileSync(join(out, f)).equals(readFileSync(join(web, "dist", f))))
      .map((f) => `differs: web/dist/${f}`),
  ];
  if (differ.length > 0) {
    console.error(`check-dist: web/dist is not the build of web/src:\n  ${differ.join("\n  ")}\nrun \`npm run build\` in web/ and commit web/dist`);
    process.exit(1);
  }
  console.log(`check-dist: web/dist is the build of web/src (${want.length} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
