import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The build is checked in (web/dist) and embedded in the `medimint` binary; CI rebuilds it
// and fails on any difference, so it must be reproducible: no source maps, no timestamps,
// content-hashed file names.
export default defineConfig({
  plugins: [react()],
  base: "/",
  // `npm run dev`: the API of a running `medimint up` on the dev server's origin.
  server: {
    proxy: Object.fromEntries(
      ["/auth", "/v1", "/dicomweb", "/.well-known"].map((p) => [p, process.env["MEDIMINT_API"] ?? "http://127.0.0.1:8080"]),
    ),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    // One entry chunk plus lazily loaded ones (the wallet); no inline modulepreload polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  test: {
    include: ["tests/unit/**/*.test.ts"],
    environment: "node",
  },
});
