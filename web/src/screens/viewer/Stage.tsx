// One series on screen: every frame of every instance as one run (wheel, keys, slider),
// window level/width (presets, or a drag previewed at once with a CSS filter and rendered
// by the API once it rests), zoom and pan as a CSS transform, the neighbouring frames
// fetched ahead.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { image, renderedPath, type FrameRef, type Instance, type Series, type WindowLevel } from "../../api/dicomweb";
import { ApiError } from "../../api/problem";
import { useApi } from "../../app/context";
import { ErrorNote } from "../../app/ui";
import {
  FrameCache,
  clamp,
  dragWindow,
  frameKey,
  greyscale,
  neighbours,
  presetsFor,
  slotsOf,
  startWindow,
  stepZoom,
  type Slot,
} from "./frames";

/** Wait after the last window change before asking the API for the rendering. */
const WINDOW_DEBOUNCE_MS = 150;
/** Renderings larger than this (pixels a side) are asked scaled down. */
const MAX_SIDE = 1024;
/** Prefetches in flight at most. */
const PREFETCH = 4;

type Tool = "window" | "pan";

export function Stage(props: {
  study: string;
  series: Series;
  /** The series' instances in Instance Number order. */
  instances: Instance[];
  onRefused: (e: unknown) => void;
  /** Called when a frame is drawn (the viewer then loads the thumbnails). */
  onDrawn: () => void;
}) {
  const { study, series, instances, onRefused, onDrawn } = props;
  const slots = useMemo(() => slotsOf(instances), [instances]);
  if (slots.length === 0) return <p>This series has no images.</p>;
  return <Run study={study} series={series} slots={slots} onRefused={onRefused} onDrawn={onDrawn} />;
}

function refOf(study: string, series: string, s: Slot): FrameRef {
  return { study, series, instance: s.instance.uid, frame: s.frame };
}

function Run(props: {
  study: string;
  series: Series;
  slots: Slot[];
  onRefused: (e: unknown) => void;
  onDrawn: () => void;
}) {
  const { study, series, slots, onRefused, onDrawn } = props;
  const api = useApi();
  const [pos, setPos] = useState(0);
  /** The window asked of the API (undefined: the image's own). */
  const [win, setWin] = useState<WindowLevel | undefined>(undefined);
  /** The window being dragged to, before it is asked. */
  const [preview, setPreview] = useState<WindowLevel | undefined>(undefined);
  const [zoom, setZoom] = useState(1);
  const [pan, setPan] = useState({ x: 0, y: 0 });
  const [chosenTool, setTool] = useState<Tool>("window");
  const [failure, setFailure] = useState<unknown>(undefined);
  const [drawn, setDrawn] = useState<{ pos: number; key: string } | undefined>(undefined);
  const [size, setSize] = useState({ w: 0, h: 0 });
  const canvas = useRef<HTMLCanvasElement>(null);
  const stage = useRef<HTMLDivElement>(null);
  const cache = useMemo(() => new FrameCache<ImageBitmap>(96, (b) => b.close()), []);
  const seq = useRef({ asked: 0, drawn: 0 });

  useEffect(() => () => cache.clear(), [cache]);

  const slot = slots[pos] ?? slots[0];
  if (!slot) throw new Error("a run has at least one image");
  const grey = greyscale(slot.instance.photometric);
  const presets = presetsFor(series.modality);
  // Colour images have no window: a drag always moves them.
  const tool: Tool = grey ? chosenTool : "pan";
  const current = win ?? startWindow(slot.instance);
  const shown = preview ?? current;

  const load = useCallback(
    (s: Slot, w: WindowLevel | undefined) => {
      const ref = refOf(study, series.uid, s);
      const big = Math.max(s.instance.rows, s.instance.columns) > MAX_SIDE;
      return cache.get(frameKey(ref, w), () => image(api, renderedPath(ref, w, big ? MAX_SIDE : undefined)));
    },
    [api, cache, study, series.uid],
  );

  // The frame at `pos` with the window asked; the newest answer wins, and an older one
  // still shows while scrolling fast.
  useEffect(() => {
    const s = slots[pos];
    if (!s) return;
    const w = greyscale(s.instance.photometric) ? win : undefined;
    const n = ++seq.current.asked;
    const key = frameKey(refOf(study, series.uid, s), w);
    // The neighbours are fetched once this frame is drawn, so that they do not compete
    // with it for the server.
    const ahead = () => {
      for (const at of neighbours(pos, slots.length)) {
        if (cache.inFlight >= PREFETCH) break;
        const t = slots[at];
        if (t) load(t, greyscale(t.instance.photometric) ? win : undefined).catch(() => undefined);
      }
    };
    load(s, w).then(
      (bm) => {
        const c = canvas.current;
        if (!c || n < seq.current.drawn) return;
        seq.current.drawn = n;
        if (c.width !== bm.width || c.height !== bm.height) {
          c.width = bm.width;
          c.height = bm.height;
          setSize({ w: bm.width, h: bm.height });
        }
        c.getContext("2d")?.drawImage(bm, 0, 0);
        setDrawn({ pos, key });
        setFailure(undefined);
        setPreview((p) => (p && w && p.center === w.center && p.width === w.width ? undefined : p));
        onDrawn();
        if (n === seq.current.asked) ahead();
      },
      (e: unknown) => {
        if (n >= seq.current.drawn) setFailure(e);
        if (e instanceof ApiError && (e.status === 403 || e.status === 404)) onRefused(e);
      },
    );
  }, [pos, win, slots, load, cache, study, series.uid, onRefused, onDrawn]);

  // A dragged window is asked once the drag rests.
  useEffect(() => {
    if (!preview) return;
    const t = window.setTimeout(() => setWin(preview), WINDOW_DEBOUNCE_MS);
    return () => window.clearTimeout(t);
  }, [preview]);

  const go = useCallback((to: number) => setPos(clamp(to, 0, slots.length - 1)), [slots.length]);

  // The wheel scrolls through the images (not the page).
  useEffect(() => {
    const el = stage.current;
    if (!el) return;
    const on = (e: WheelEvent) => {
      e.preventDefault();
      if (e.deltaY !== 0) setPos((p) => clamp(p + Math.sign(e.deltaY), 0, slots.length - 1));
    };
    el.addEventListener("wheel", on, { passive: false });
    return () => el.removeEventListener("wheel", on);
  }, [slots.length]);

  const onKey = (e: React.KeyboardEvent) => {
    const moves: Record<string, number> = {
      ArrowDown: 1,
      ArrowRight: 1,
      PageDown: 10,
      ArrowUp: -1,
      ArrowLeft: -1,
      PageUp: -10,
    };
    const m = moves[e.key];
    if (m !== undefined) go(pos + m);
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(slots.length - 1);
    else if (e.key === "+" || e.key === "=") setZoom((z) => stepZoom(z, 1));
    else if (e.key === "-") setZoom((z) => stepZoom(z, -1));
    else if (e.key === "0") reset();
    else return;
    e.preventDefault();
  };

  const drag = useRef<{ x: number; y: number; from: WindowLevel; pan: { x: number; y: number } } | undefined>(undefined);
  const onDown = (e: React.PointerEvent) => {
    if (e.button !== 0) return;
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    drag.current = { x: e.clientX, y: e.clientY, from: shown, pan };
  };
  const onMove = (e: React.PointerEvent) => {
    const d = drag.current;
    if (!d) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (tool === "pan") setPan({ x: d.pan.x + dx, y: d.pan.y + dy });
    else if (grey) setPreview(dragWindow(d.from, dx, dy));
  };
  const onUp = () => {
    drag.current = undefined;
  };
  const reset = () => {
    setZoom(1);
    setPan({ x: 0, y: 0 });
    setPreview(undefined);
    setWin(undefined);
  };

  // Fit the image in the stage, then zoom and pan.
  const box = 512;
  const fit = size.w > 0 ? Math.min(box / size.w, box / size.h) : 1;
  const style = {
    width: `${Math.round(size.w * fit)}px`,
    height: `${Math.round(size.h * fit)}px`,
    transform: `translate(${pan.x}px, ${pan.y}px) scale(${zoom})`,
    filter: preview && win !== preview ? previewFilter(current, preview) : "none",
  };
  const frames = slot.instance.frames;
  return (
    <div className="stage-wrap">
      <div className="toolbar" role="toolbar" aria-label="Image tools">
        {grey && (
          <fieldset className="tool">
            <legend>Drag to</legend>
            <label>
              <input type="radio" name="tool" checked={tool === "window"} onChange={() => setTool("window")} /> adjust the window
            </label>
            <label>
              <input type="radio" name="tool" checked={tool === "pan"} onChange={() => setTool("pan")} /> move the image
            </label>
          </fieldset>
        )}
        {grey && (
          <span className="inline-label">
            <label htmlFor="wl-preset">Window</label>
            <select
              id="wl-preset"
              value={presets.findIndex((p) => sameWindow(p.window, win))}
              onChange={(e) => {
                setPreview(undefined);
                setWin(presets[Number(e.target.value)]?.window);
              }}
            >
              {presets.map((p, i) => (
                <option key={p.name} value={i}>
                  {p.name}
                </option>
              ))}
              {presets.every((p) => !sameWindow(p.window, win)) && <option value={-1}>Custom</option>}
            </select>
          </span>
        )}
        <button type="button" className="secondary" aria-label="Zoom out" onClick={() => setZoom((z) => stepZoom(z, -1))}>
          −
        </button>
        <output className="zoom" aria-label="Zoom">
          {Math.round(zoom * 100)}%
        </output>
        <button type="button" className="secondary" aria-label="Zoom in" onClick={() => setZoom((z) => stepZoom(z, 1))}>
          +
        </button>
        <button type="button" className="secondary" onClick={reset}>
          Reset
        </button>
      </div>
      <div
        ref={stage}
        className={`stage ${tool}`}
        tabIndex={0}
        role="region"
        aria-label={`Image ${pos + 1} of ${slots.length}`}
        aria-describedby="stage-help"
        onKeyDown={onKey}
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
        onPointerCancel={onUp}
      >
        <canvas
          ref={canvas}
          className="frame"
          style={style}
          data-frame={drawn ? drawn.pos + 1 : undefined}
          data-key={drawn?.key}
          data-zoom={zoom}
        />
      </div>
      <p id="stage-help" className="hint">
        Wheel or arrow keys: next and previous image; Page Up/Down: 10 at a time; + and −: zoom; 0: reset. Drag to
        change the {grey ? "window or " : ""}position.
      </p>
      <div className="scrub">
        <label htmlFor="slider">Image</label>
        <input
          id="slider"
          type="range"
          min={1}
          max={slots.length}
          value={pos + 1}
          onChange={(e) => go(Number(e.target.value) - 1)}
          disabled={slots.length < 2}
        />
        <output className="counter" htmlFor="slider">
          Image {pos + 1} of {slots.length}
        </output>
      </div>
      <dl className="facts small">
        <dt>Instance</dt>
        <dd>
          #{slot.instance.number ?? "—"}
          {frames > 1 && ` · frame ${slot.frame} of ${frames}`}
        </dd>
        <dt>Size</dt>
        <dd>
          {slot.instance.columns} × {slot.instance.rows} · {slot.instance.photometric}
        </dd>
        <dt>Window</dt>
        <dd className="window">
          {grey ? `level ${Math.round(shown.center)} / width ${Math.round(shown.width)}` : "as stored (colour)"}
        </dd>
      </dl>
      {failure !== undefined && <ErrorNote error={failure} />}
    </div>
  );
}

function sameWindow(a: WindowLevel | undefined, b: WindowLevel | undefined): boolean {
  if (!a || !b) return a === b;
  return a.center === b.center && a.width === b.width;
}

/**
 * A CSS filter that approximates, on the image rendered with window `from`, the window
 * `to` while the API renders it: contrast for the width, brightness for the level.
 */
function previewFilter(from: WindowLevel, to: WindowLevel): string {
  const k = from.width / to.width;
  const lo0 = from.center - from.width / 2;
  const lo1 = to.center - to.width / 2;
  const offset = (lo0 - lo1) / to.width - 0.5 * (1 - k);
  return `contrast(${k.toFixed(3)}) brightness(${Math.max(0, 1 + 2 * offset).toFixed(3)})`;
}
