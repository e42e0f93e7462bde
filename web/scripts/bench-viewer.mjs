// The viewer's figures in Chromium (docs/performance.md, "DICOMweb"), run by
// bench/dicomweb.py --browser against its `medimint up`: signs the patient in with a code
// the bench read from the outbox, then measures in the page
// - first image: from setting the viewer's route to the first frame drawn on the canvas
//   (cold: the session's first viewing; warm: the viewer opened again),
// - frames per second: arrow key after arrow key, each frame drawn before the next key.
// Prints one JSON object.
//
// usage: node scripts/bench-viewer.mjs BASE_URL EMAIL CODE TOKEN [WARM_RUNS]
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../tests/browser/harness.mjs";

const [base, email, code, token, runs = "5"] = process.argv.slice(2);
if (!token) {
  console.error("usage: node scripts/bench-viewer.mjs BASE_URL EMAIL CODE TOKEN [WARM_RUNS]");
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${base}/`);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByRole("button", { name: "I already have a code" }).click();
  await page.getByLabel("Code from the email").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Studies" }).waitFor();

  /** Milliseconds from the viewer's route to frame 1 drawn, measured in the page. */
  const firstImage = () =>
    page.evaluate(async (t) => {
      const t0 = performance.now();
      window.location.hash = `#/studies/${t}/view`;
      await new Promise((resolve, reject) => {
        const give = setTimeout(() => reject(new Error("no image in 60 s")), 60_000);
        const check = () => {
          if (document.querySelector('canvas.frame[data-frame="1"]')) {
            clearTimeout(give);
            resolve();
          } else requestAnimationFrame(check);
        };
        check();
      });
      return performance.now() - t0;
    }, token);
  const away = async () => {
    await page.evaluate((t) => (window.location.hash = `#/studies/${t}`), token);
    await page.getByRole("heading", { level: 1, name: `Study #${token}` }).waitFor();
  };

  /** The /dicomweb requests of the last first image: what, when it started, how long (ms). */
  const requests = () =>
    page.evaluate(() => {
      const all = performance.getEntriesByType("resource").filter((e) => e.name.includes("/dicomweb/"));
      const t0 = all[0]?.startTime ?? 0;
      performance.clearResourceTimings();
      return all.map((e) => {
        const path = new URL(e.name).pathname;
        const what = path.endsWith("/rendered")
          ? "rendered"
          : path.endsWith("/thumbnail")
            ? "thumbnail"
            : path.endsWith("/instances")
              ? "instances"
              : path.endsWith("/series")
                ? "series"
                : "studies";
        return [what, Math.round(e.startTime - t0), Math.round(e.duration)];
      });
    });
  await page.evaluate(() => performance.clearResourceTimings());
  const cold = await firstImage();
  const coldRequests = await requests();
  const warm = [];
  let warmRequests = [];
  for (let i = 0; i < Number(runs); i++) {
    await away();
    await page.evaluate(() => performance.clearResourceTimings());
    warm.push(await firstImage());
    warmRequests = await requests();
  }
  warm.sort((a, b) => a - b);

  /** Every frame of the first series in turn, each drawn before the next key. */
  const scroll = await page.evaluate(async () => {
    const stage = document.querySelector(".stage");
    const canvas = document.querySelector("canvas.frame");
    const n = Number(document.querySelector("#slider")?.getAttribute("max") ?? "1");
    stage.focus();
    const t0 = performance.now();
    for (let i = 2; i <= n; i++) {
      stage.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
      await new Promise((resolve) => {
        const check = () => (canvas.dataset.frame === String(i) ? resolve() : requestAnimationFrame(check));
        check();
      });
    }
    const s = (performance.now() - t0) / 1000;
    return { frames: n - 1, seconds: s, per_s: (n - 1) / s };
  });
  console.log(
    JSON.stringify({
      first_image_cold_ms: Math.round(cold),
      first_image_warm_median_ms: Math.round(warm[Math.floor(warm.length / 2)]),
      first_image_warm_max_ms: Math.round(warm[warm.length - 1]),
      scroll_frames: scroll.frames,
      scroll_frames_per_s: Math.round(scroll.per_s * 10) / 10,
      cold_requests: coldRequests,
      last_warm_requests: warmRequests,
      chromium: browser.version(),
    }),
  );
} finally {
  await browser.close();
}
