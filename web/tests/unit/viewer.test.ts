import { describe, expect, it } from "vitest";
import { Api, type Fetch } from "../../src/api/client";
import { instancesOf, instancesOfStudy, renderedPath, seriesOf, studyOfToken, thumbnailPath } from "../../src/api/dicomweb";
import { ApiError } from "../../src/api/problem";
import {
  FrameCache,
  dragWindow,
  frameKey,
  greyscale,
  neighbours,
  presetsFor,
  slotsOf,
  startWindow,
  stepZoom,
} from "../../src/screens/viewer/frames";

const dicomJson = (v: unknown, status = 200) =>
  new Response(JSON.stringify(v), { status, headers: { "content-type": "application/dicom+json" } });

/** A scripted DICOMweb server: answers by path, records what was asked and with which Accept. */
function server(answer: (path: string) => Response): { api: Api; asked: { path: string; accept: string }[] } {
  const asked: { path: string; accept: string }[] = [];
  const fetch: Fetch = async (url, init) => {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    asked.push({ path: url, accept: headers["accept"] ?? "" });
    return answer(url);
  };
  return { api: new Api("", fetch), asked };
}

const inst = (over: Partial<Parameters<typeof startWindow>[0]> = {}) => ({
  uid: "1.2",
  number: 1,
  frames: 1,
  rows: 64,
  columns: 64,
  photometric: "MONOCHROME2",
  window: undefined,
  range: { min: -1024, max: 3071 },
  ...over,
});

describe("the DICOMweb client", () => {
  it("finds a token's study by MediMint's private tag, and none for another token", async () => {
    const { api, asked } = server(() =>
      dicomJson([
        { "0020000D": { vr: "UI", Value: ["1.2.3"] }, "00091001": { vr: "UL", Value: [7] } },
        { "0020000D": { vr: "UI", Value: ["4.5.6"] }, "00081030": { vr: "LO", Value: ["Chest"] }, "00091001": { vr: "UL", Value: [8] } },
      ]),
    );
    expect(await studyOfToken(api, 8)).toEqual({ uid: "4.5.6", description: "Chest" });
    expect(await studyOfToken(api, 9)).toBeUndefined();
    expect(asked[0]).toEqual({ path: "/dicomweb/studies?limit=1000", accept: "application/dicom+json" });
  });

  it("reads no content (204) as no match", async () => {
    const { api } = server(() => new Response(null, { status: 204 }));
    expect(await studyOfToken(api, 1)).toBeUndefined();
  });

  it("reads series and instances, in Instance Number order, with windows and ranges", async () => {
    const { api } = server((path) =>
      path.includes("/instances")
        ? dicomJson([
            {
              "00080018": { vr: "UI", Value: ["9.2"] },
              "00200013": { vr: "IS", Value: [2] },
              "00280008": { vr: "IS", Value: ["30"] },
              "00280004": { vr: "CS", Value: ["RGB"] },
            },
            {
              "00080018": { vr: "UI", Value: ["9.1"] },
              "00200013": { vr: "IS", Value: [1] },
              "00281050": { vr: "DS", Value: ["40"] },
              "00281051": { vr: "DS", Value: [400] },
              "00280101": { vr: "US", Value: [12] },
              "00280103": { vr: "US", Value: [0] },
              "00281052": { vr: "DS", Value: ["-1024"] },
            },
          ])
        : dicomJson([{ "0020000E": { vr: "UI", Value: ["5.6"] }, "0008103E": { vr: "LO", Value: ["Axial"] }, "00080060": { vr: "CS", Value: ["CT"] }, "00201209": { vr: "IS", Value: [2] } }]),
    );
    expect(await seriesOf(api, "1.2.3")).toEqual([{ uid: "5.6", number: undefined, modality: "CT", description: "Axial", instances: 2 }]);
    const [a, b] = await instancesOf(api, "1.2.3", "5.6");
    expect(a?.uid).toBe("9.1");
    expect(a?.window).toEqual({ center: 40, width: 400 });
    expect(a?.range).toEqual({ min: -1024, max: 4095 - 1024 });
    expect(b?.frames).toBe(30);
    expect(b?.photometric).toBe("RGB");
  });

  it("reads a study's instances by series, page after page", async () => {
    const row = (series: string, n: number) => ({
      "0020000E": { vr: "UI", Value: [series] },
      "00080018": { vr: "UI", Value: [`${series}.${n}`] },
      "00200013": { vr: "IS", Value: [n] },
    });
    const first = Array.from({ length: 1000 }, (_, i) => row(i % 2 ? "a" : "b", 1000 - i));
    const { api, asked } = server((path) => dicomJson(path.includes("offset=0") ? first : [row("c", 1)]));
    const by = await instancesOfStudy(api, "1.2");
    expect(asked.map((a) => new URL(a.path, "http://x").searchParams.get("offset"))).toEqual(["0", "1000"]);
    expect(asked[0]?.path).toContain("includefield=SeriesInstanceUID,");
    expect([...by.keys()].sort()).toEqual(["a", "b", "c"]);
    expect(by.get("a")).toHaveLength(500);
    expect(by.get("a")?.[0]?.number).toBe(1);
    expect(by.get("a")?.at(-1)?.number).toBe(999);
  });

  it("builds rendering paths with the window and viewport, UIDs encoded", () => {
    const f = { study: "1.2", series: "3.4", instance: "5.6", frame: 2 };
    expect(renderedPath(f)).toBe("/dicomweb/studies/1.2/series/3.4/instances/5.6/frames/2/rendered");
    expect(renderedPath(f, { center: -600, width: 1500.456 }, 1024)).toBe(
      "/dicomweb/studies/1.2/series/3.4/instances/5.6/frames/2/rendered?window=-600%2C1500.46&viewport=1024%2C1024",
    );
    expect(thumbnailPath("1.2", "3/4")).toBe("/dicomweb/studies/1.2/series/3%2F4/thumbnail");
  });

  it("turns a 404 into the API's problem, so the viewer can refuse", async () => {
    const { api } = server(
      () => new Response(JSON.stringify({ type: "urn:medimint:problem:not-found", title: "Not found", status: 404, detail: "no study" }), { status: 404 }),
    );
    const err = await seriesOf(api, "1.2").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(404);
  });
});

describe("the viewer's logic", () => {
  it("runs through every frame of every instance", () => {
    const slots = slotsOf([inst({ uid: "a", frames: 2 }), inst({ uid: "b" })]);
    expect(slots.map((s) => `${s.instance.uid}:${s.frame}`)).toEqual(["a:1", "a:2", "b:1"]);
  });

  it("starts from the header's window, else the whole range; colour has none", () => {
    expect(startWindow(inst({ window: { center: 40, width: 400 } }))).toEqual({ center: 40, width: 400 });
    expect(startWindow(inst())).toEqual({ center: 1023.5, width: 4095 });
    expect(greyscale("MONOCHROME1")).toBe(true);
    expect(greyscale("PALETTE COLOR")).toBe(false);
    expect(presetsFor("CT").map((p) => p.name)).toContain("Lung");
    expect(presetsFor("MR")).toHaveLength(1);
  });

  it("drags the window: right widens, down raises the level, never below width 1", () => {
    const w = dragWindow({ center: 40, width: 400 }, 10, -20);
    expect(w.width).toBeGreaterThan(400);
    expect(w.center).toBeLessThan(40);
    expect(dragWindow({ center: 0, width: 2 }, -1000, 0).width).toBe(1);
  });

  it("steps the zoom within its bounds", () => {
    expect(stepZoom(1, 1)).toBe(1.5);
    expect(stepZoom(1, -1)).toBe(0.75);
    expect(stepZoom(8, 1)).toBe(8);
    expect(stepZoom(0.25, -1)).toBe(0.25);
  });

  it("prefetches the next frames first, within the run", () => {
    expect(neighbours(0, 10)).toEqual([1, 2, 3]);
    expect(neighbours(5, 10)).toEqual([6, 4, 7, 3, 8]);
    expect(neighbours(9, 10)).toEqual([8, 7]);
  });

  it("caches renderings by frame and window, shares a request in flight, drops the oldest", async () => {
    const dropped: string[] = [];
    const cache = new FrameCache<string>(2, (v) => dropped.push(v));
    let loads = 0;
    const load = (v: string) => () => {
      loads++;
      return Promise.resolve(v);
    };
    const k1 = frameKey({ study: "s", series: "r", instance: "i", frame: 1 }, undefined);
    const k2 = frameKey({ study: "s", series: "r", instance: "i", frame: 1 }, { center: 40, width: 400 });
    expect(k1).not.toBe(k2);
    const [a, b] = await Promise.all([cache.get(k1, load("one")), cache.get(k1, load("again"))]);
    expect([a, b, loads]).toEqual(["one", "one", 1]);
    await cache.get(k2, load("two"));
    await cache.get("k3", load("three"));
    expect(dropped).toEqual(["one"]);
    expect(cache.peek(k1)).toBeUndefined();
    await expect(cache.get("bad", () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    expect(await cache.get("bad", load("ok"))).toBe("ok");
  });
});
