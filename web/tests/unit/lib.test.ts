import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crc32, presentedName, readWithProgress, sha256Hex, zipStore } from "../../src/lib/bytes";
import { endOfDay, eventWords, short } from "../../src/lib/format";
import { IdleTimer, type IdleState } from "../../src/lib/idle";
import { href, parseRoute } from "../../src/lib/route";

describe("idle logoff", () => {
  it("warns before the timeout, resets on activity, then expires", () => {
    const seen: IdleState[] = [];
    const t = new IdleTimer(15 * 60_000, 60_000, 0, (s) => seen.push(s));
    expect(t.tick(13 * 60_000)).toBe("active");
    expect(t.tick(14 * 60_000 + 1)).toBe("warning");
    t.activity(14 * 60_000 + 2);
    expect(seen).toEqual(["warning", "active"]);
    expect(t.tick(28 * 60_000)).toBe("active");
    expect(t.tick(29 * 60_000 + 2)).toBe("expired");
    t.activity(30 * 60_000);
    expect(t.tick(30 * 60_000)).toBe("expired");
    expect(seen.at(-1)).toBe("expired");
  });
});

describe("routes", () => {
  it("carry token ids only and round-trip", () => {
    expect(parseRoute("")).toEqual({ name: "studies", role: "owned" });
    expect(parseRoute("#/studies/pending")).toEqual({ name: "studies", role: "pending" });
    expect(parseRoute("#/studies/42")).toEqual({ name: "study", token: 42 });
    expect(parseRoute("#/studies/DOE^JANE")).toEqual({ name: "not-found" });
    expect(parseRoute("#/studies/1/extra")).toEqual({ name: "not-found" });
    expect(parseRoute("#/releases/new")).toEqual({ name: "upload" });
    expect(parseRoute("#/studies/42/view")).toEqual({ name: "viewer", token: 42 });
    expect(parseRoute("#/studies/1.2.840.1/view")).toEqual({ name: "not-found" });
    expect(parseRoute("#/explorer")).toEqual({ name: "explorer", token: undefined });
    expect(parseRoute("#/explorer/4294967295")).toEqual({ name: "explorer", token: 4294967295 });
    expect(parseRoute("#/explorer/4294967296")).toEqual({ name: "not-found" });
    for (const r of ["#/studies/shared", "#/studies/7", "#/studies/7/view", "#/explorer", "#/explorer/3", "#/account", "#/issuers", "#/releases", "#/releases/new", "#/releases/rel-1"]) {
      expect(href(parseRoute(r))).toBe(r);
    }
  });
});

describe("bytes", () => {
  it("hashes with SHA-256", async () => {
    expect(await sha256Hex(new TextEncoder().encode("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("computes the ZIP CRC-32", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  it("reads a stream reporting progress", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3]));
        c.enqueue(new Uint8Array([4, 5]));
        c.close();
      },
    });
    const seen: number[] = [];
    const out = await readWithProgress(new Response(body), (n) => seen.push(n));
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5]);
    expect(seen).toEqual([3, 5]);
  });

  it("writes a ZIP that Python's zipfile reads back byte for byte", () => {
    const a = new Uint8Array(1000).map((_, i) => i % 251);
    const zip = zipStore([
      { name: "S01/IM1.dcm", data: a },
      { name: "S02/IM 2.dcm", data: new TextEncoder().encode("DICM") },
      { name: "empty", data: new Uint8Array(0) },
    ]);
    const dir = mkdtempSync(join(tmpdir(), "zip-"));
    try {
      const path = join(dir, "t.zip");
      writeFileSync(path, zip);
      const py = spawnSync(
        "python3",
        [
          "-c",
          "import sys,zipfile,hashlib\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nfor i in z.infolist(): print(i.filename, len(z.read(i)), hashlib.sha256(z.read(i)).hexdigest()[:8])",
          path,
        ],
        { encoding: "utf8" },
      );
      expect(py.stderr).toBe("");
      const lines = py.stdout.trim().split("\n");
      expect(lines.map((l) => l.split(" ").slice(0, -1).join(" "))).toEqual(["S01/IM1.dcm 1000", "S02/IM 2.dcm 4", "empty 0"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names dropped files by their path below the folder", () => {
    expect(presentedName("export/S01/IM1.dcm", "IM1.dcm")).toBe("S01/IM1.dcm");
    expect(presentedName("", "IM1.dcm")).toBe("IM1.dcm");
  });
});

describe("format", () => {
  it("shortens addresses and reads dates", () => {
    expect(short("GABCDEFGHIJKLMNOPQRSTUVWXYZ")).toBe("GABCDE…UVWXYZ");
    const end = endOfDay("2030-02-03");
    expect(end).toBeDefined();
    const d = new Date((end as number) * 1000);
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours()]).toEqual([2030, 1, 3, 23]);
    expect(endOfDay("2030-02-31")).toBeUndefined();
    expect(endOfDay("tomorrow")).toBeUndefined();
    expect(eventWords("role_revoked")).toBe("Access revoked");
    expect(eventWords("erased")).toMatch(/^Erased/);
    expect(eventWords("something_new")).toBe("Something new");
  });
});
