// The few DICOMweb calls the viewer makes (docs/dicomweb.md), typed by hand: /dicomweb is
// DICOM PS3.18's contract, not part of docs/openapi.json. Same bearer token, refresh and
// problems as the rest of the API (through `Api.raw`).

import type { Api } from "./client";

/** One attribute of DICOM JSON (PS3.18 Annex F). */
export interface DicomAttr {
  vr: string;
  Value?: unknown[];
}
/** A DICOM JSON data set: attributes by their tag (`0020000D`). */
export type DicomJson = Record<string, DicomAttr | undefined>;

/** Tags the viewer reads. */
export const TAG = {
  studyUid: "0020000D",
  studyDescription: "00081030",
  seriesUid: "0020000E",
  seriesDescription: "0008103E",
  seriesNumber: "00200011",
  modality: "00080060",
  seriesInstances: "00201209",
  sopInstanceUid: "00080018",
  instanceNumber: "00200013",
  numberOfFrames: "00280008",
  rows: "00280010",
  columns: "00280011",
  photometric: "00280004",
  windowCenter: "00281050",
  windowWidth: "00281051",
  bitsStored: "00280101",
  pixelRepresentation: "00280103",
  rescaleIntercept: "00281052",
  rescaleSlope: "00281053",
  /** MediMint's private block (creator `MEDIMINT` in 00090010): the study's token id. */
  tokenId: "00091001",
} as const;

/** The first value of an attribute, as a string (person names: their alphabetic form). */
export function str(ds: DicomJson, tag: string): string | undefined {
  const v = ds[tag]?.Value?.[0];
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (v && typeof v === "object" && "Alphabetic" in v) return String((v as { Alphabetic: unknown }).Alphabetic);
  return undefined;
}

/** The first value of an attribute, as a number (DS and IS strings too). */
export function num(ds: DicomJson, tag: string): number | undefined {
  const v = ds[tag]?.Value?.[0];
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

export interface Series {
  uid: string;
  number: number | undefined;
  modality: string;
  description: string;
  instances: number;
}

export interface Instance {
  uid: string;
  number: number | undefined;
  frames: number;
  rows: number;
  columns: number;
  photometric: string;
  /** The header's first window (center, width), if any. */
  window: WindowLevel | undefined;
  /** The range of stored values after the rescale, for images without a window. */
  range: { min: number; max: number };
}

export interface WindowLevel {
  center: number;
  width: number;
}

/** A rendered frame: what to ask for. */
export interface FrameRef {
  study: string;
  series: string;
  instance: string;
  /** From 1. */
  frame: number;
}

const enc = encodeURIComponent;
const JSON_ACCEPT = { accept: "application/dicom+json" };

async function search(api: Api, path: string): Promise<DicomJson[]> {
  const res = await api.raw("GET", `/dicomweb${path}`, undefined, true, JSON_ACCEPT);
  if (res.status === 204) return [];
  return (await res.json()) as DicomJson[];
}

/** The Study Instance UID and description of the study with token `token`, if the caller may view it. */
export async function studyOfToken(api: Api, token: number): Promise<{ uid: string; description: string } | undefined> {
  const all = await search(api, "/studies?limit=1000");
  const found = all.find((s) => num(s, TAG.tokenId) === token);
  const uid = found && str(found, TAG.studyUid);
  return found && uid ? { uid, description: str(found, TAG.studyDescription) ?? "" } : undefined;
}

export async function seriesOf(api: Api, study: string): Promise<Series[]> {
  const rows = await search(api, `/studies/${enc(study)}/series?includefield=SeriesDescription`);
  return rows
    .map((r) => ({
      uid: str(r, TAG.seriesUid) ?? "",
      number: num(r, TAG.seriesNumber),
      modality: str(r, TAG.modality) ?? "",
      description: str(r, TAG.seriesDescription) ?? "",
      instances: num(r, TAG.seriesInstances) ?? 0,
    }))
    .filter((s) => s.uid.length > 0);
}

const INSTANCE_FIELDS = [
  "NumberOfFrames",
  "Rows",
  "Columns",
  "PhotometricInterpretation",
  "WindowCenter",
  "WindowWidth",
  "BitsStored",
  "PixelRepresentation",
  "RescaleIntercept",
  "RescaleSlope",
].join(",");

/** An instance of a search answer, with what the viewer needs. */
function instanceOf(r: DicomJson): Instance {
  const center = num(r, TAG.windowCenter);
  const width = num(r, TAG.windowWidth);
  const bits = num(r, TAG.bitsStored) ?? 8;
  const signed = num(r, TAG.pixelRepresentation) === 1;
  const slope = num(r, TAG.rescaleSlope) ?? 1;
  const intercept = num(r, TAG.rescaleIntercept) ?? 0;
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return {
    uid: str(r, TAG.sopInstanceUid) ?? "",
    number: num(r, TAG.instanceNumber),
    frames: Math.max(1, num(r, TAG.numberOfFrames) ?? 1),
    rows: num(r, TAG.rows) ?? 0,
    columns: num(r, TAG.columns) ?? 0,
    photometric: str(r, TAG.photometric) ?? "MONOCHROME2",
    window: center !== undefined && width !== undefined && width > 0 ? { center, width } : undefined,
    range: { min: lo * slope + intercept, max: hi * slope + intercept },
  };
}

function byNumber(list: Instance[]): Instance[] {
  return list.filter((i) => i.uid.length > 0).sort((a, b) => (a.number ?? 0) - (b.number ?? 0));
}

/** The instances of a series in Instance Number order, with what the viewer needs. */
export async function instancesOf(api: Api, study: string, series: string): Promise<Instance[]> {
  const rows = await search(
    api,
    `/studies/${enc(study)}/series/${enc(series)}/instances?limit=1000&includefield=${INSTANCE_FIELDS}`,
  );
  return byNumber(rows.map(instanceOf));
}

/** A search page's size (the service's largest). */
const PAGE = 1000;

/**
 * Every instance of a study by series UID, each list in Instance Number order: one search
 * at the study level (pages of 1,000), asked beside the series search rather than after it.
 */
export async function instancesOfStudy(api: Api, study: string): Promise<Map<string, Instance[]>> {
  const out = new Map<string, Instance[]>();
  for (let offset = 0; ; offset += PAGE) {
    const rows = await search(
      api,
      `/studies/${enc(study)}/instances?limit=${PAGE}&offset=${offset}&includefield=SeriesInstanceUID,${INSTANCE_FIELDS}`,
    );
    for (const r of rows) {
      const series = str(r, TAG.seriesUid);
      if (!series) continue;
      const list = out.get(series) ?? [];
      list.push(instanceOf(r));
      out.set(series, list);
    }
    if (rows.length < PAGE) break;
  }
  for (const [k, v] of out) out.set(k, byNumber(v));
  return out;
}

/** The path of a frame's rendering (JPEG) with an optional window and viewport. */
export function renderedPath(f: FrameRef, window?: WindowLevel, viewport?: number): string {
  const q = new URLSearchParams();
  if (window) q.set("window", `${round(window.center)},${round(Math.max(1, window.width))}`);
  if (viewport) q.set("viewport", `${viewport},${viewport}`);
  const qs = q.toString();
  return (
    `/dicomweb/studies/${enc(f.study)}/series/${enc(f.series)}/instances/${enc(f.instance)}` +
    `/frames/${f.frame}/rendered${qs ? `?${qs}` : ""}`
  );
}

export function thumbnailPath(study: string, series: string): string {
  return `/dicomweb/studies/${enc(study)}/series/${enc(series)}/thumbnail`;
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** Fetches an image of the API (a rendering or a thumbnail) as a bitmap to draw. */
export async function image(api: Api, path: string, signal?: AbortSignal): Promise<ImageBitmap> {
  const res = await api.raw("GET", path, undefined, true, { accept: "image/jpeg" });
  const blob = await res.blob();
  signal?.throwIfAborted();
  return createImageBitmap(blob);
}
