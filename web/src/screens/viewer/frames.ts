// The viewer's logic apart from React: the series as one run of images (every frame of
// every instance), window presets and the drag that changes a window, the zoom's steps,
// and a small cache of rendered frames with prefetching of the neighbours.

import type { FrameRef, Instance, WindowLevel } from "../../api/dicomweb";

/** One image of the run: an instance's frame. */
export interface Slot {
  instance: Instance;
  /** From 1. */
  frame: number;
}

/** Every frame of every instance, in Instance Number then frame order. */
export function slotsOf(instances: Instance[]): Slot[] {
  const out: Slot[] = [];
  for (const instance of instances) {
    for (let frame = 1; frame <= instance.frames; frame++) out.push({ instance, frame });
  }
  return out;
}

export function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

/** Whether window level/width applies (greyscale images; colour is shown as stored). */
export function greyscale(photometric: string): boolean {
  return photometric.startsWith("MONOCHROME");
}

export interface Preset {
  name: string;
  window: WindowLevel | undefined;
}

/** Presets for a modality: the image's own window first, then the usual CT windows. */
export function presetsFor(modality: string): Preset[] {
  const own: Preset = { name: "Image default", window: undefined };
  if (modality !== "CT") return [own];
  return [
    own,
    { name: "Soft tissue", window: { center: 40, width: 400 } },
    { name: "Lung", window: { center: -600, width: 1500 } },
    { name: "Bone", window: { center: 400, width: 1800 } },
    { name: "Brain", window: { center: 40, width: 80 } },
  ];
}

/** The window an image starts from: its header's, else its whole range. */
export function startWindow(instance: Instance): WindowLevel {
  if (instance.window) return instance.window;
  const { min, max } = instance.range;
  return { center: (min + max) / 2, width: Math.max(1, max - min) };
}

/**
 * A drag of (dx, dy) pixels from `from`: right widens the window, down raises the level,
 * by a step that scales with the width (so fine windows move finely).
 */
export function dragWindow(from: WindowLevel, dx: number, dy: number): WindowLevel {
  const step = Math.max(from.width / 256, 0.01);
  return {
    center: from.center + dy * step,
    width: Math.max(1, from.width + dx * step * 2),
  };
}

export const ZOOMS = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8] as const;

/** The next zoom step up (+1) or down (-1) from `z`. */
export function stepZoom(z: number, dir: 1 | -1): number {
  if (dir > 0) return ZOOMS.find((s) => s > z + 1e-6) ?? 8;
  return [...ZOOMS].reverse().find((s) => s < z - 1e-6) ?? ZOOMS[0];
}

/** The key of a rendered frame in the cache. */
export function frameKey(f: FrameRef, window: WindowLevel | undefined): string {
  return `${f.instance}/${f.frame}/${window ? `${window.center},${window.width}` : "-"}`;
}

/**
 * Rendered frames by key, least recently used first out; a request in flight is shared by
 * whoever asks for the same key.
 */
export class FrameCache<T> {
  private readonly done = new Map<string, T>();
  private readonly pending = new Map<string, Promise<T>>();

  constructor(
    private readonly capacity: number,
    private readonly drop: (v: T) => void = () => undefined,
  ) {}

  peek(key: string): T | undefined {
    const v = this.done.get(key);
    if (v !== undefined) {
      this.done.delete(key);
      this.done.set(key, v);
    }
    return v;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const v = this.peek(key);
    if (v !== undefined) return Promise.resolve(v);
    const p = this.pending.get(key);
    if (p) return p;
    const started = load().then(
      (value) => {
        this.pending.delete(key);
        this.done.set(key, value);
        while (this.done.size > this.capacity) {
          const [oldest, old] = this.done.entries().next().value as [string, T];
          this.done.delete(oldest);
          this.drop(old);
        }
        return value;
      },
      (e: unknown) => {
        this.pending.delete(key);
        throw e;
      },
    );
    this.pending.set(key, started);
    return started;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  clear(): void {
    for (const v of this.done.values()) this.drop(v);
    this.done.clear();
  }
}

/** The positions to prefetch around `at` (next ones first, the way one scrolls). */
export function neighbours(at: number, count: number, ahead = 3, behind = 2): number[] {
  const out: number[] = [];
  for (let d = 1; d <= Math.max(ahead, behind); d++) {
    if (d <= ahead && at + d < count) out.push(at + d);
    if (d <= behind && at - d >= 0) out.push(at - d);
  }
  return out;
}
