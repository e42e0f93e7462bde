// The viewer: a study's series as thumbnails with their descriptions, and the chosen series
// in the stage (Stage.tsx). Images are the API's renderings (/dicomweb …/rendered): why
// this engine and not cornerstone3D is in docs/web.md. A study the caller may no longer
// view (revoked, expired, never shared) is refused in words.

import { useCallback, useEffect, useRef, useState } from "react";
import type { Api } from "../../api/client";
import { image, instancesOfStudy, seriesOf, studyOfToken, thumbnailPath, type Series } from "../../api/dicomweb";
import { ApiError } from "../../api/problem";
import { useApi } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { ErrorNote, PageTitle, Pending } from "../../app/ui";
import { Stage } from "./Stage";

/**
 * Study UIDs found for token ids in this session (memory only), so that opening the viewer
 * again skips the study search; a study no longer available is still refused by the next
 * request.
 */
const known = new WeakMap<Api, Map<number, { uid: string; description: string }>>();

/**
 * The viewer of study `token`. `embedded`: inside another page (the share link's), with an
 * h2 and no link back to the study page.
 */
export function Viewer({ token, embedded = false }: { token: number; embedded?: boolean }) {
  const api = useApi();
  const loaded = useAsync(String(token), async () => {
    let mine = known.get(api);
    if (!mine) known.set(api, (mine = new Map()));
    const study = mine.get(token) ?? (await studyOfToken(api, token));
    if (!study) return undefined;
    mine.set(token, study);
    const [series, instances] = await Promise.all([seriesOf(api, study.uid), instancesOfStudy(api, study.uid)]);
    return { study, series, instances };
  });
  const [chosen, setChosen] = useState(0);
  const [refused, setRefused] = useState<unknown>(undefined);
  // Thumbnails wait for the first image, so that they do not compete with it.
  const [thumbs, setThumbs] = useState(false);
  const drawn = useCallback(() => setThumbs(true), []);
  const title = embedded ? <h2>Images</h2> : <PageTitle>Viewer: study #{token}</PageTitle>;
  const back = embedded ? null : (
    <p>
      <a href={`#/studies/${token}`}>Back to study #{token}</a>
    </p>
  );

  const error = refused ?? loaded.error;
  if (isRefusal(error) || (!loaded.loading && !loaded.error && loaded.value === undefined)) {
    return (
      <>
        {title}
        <Refusal error={error} />
        {back}
      </>
    );
  }
  if (error) {
    return (
      <>
        {title}
        <ErrorNote error={error} />
        {back}
      </>
    );
  }
  const value = loaded.value;
  if (!value) {
    return (
      <>
        {title}
        <Pending>Opening the study…</Pending>
      </>
    );
  }
  const { study, series, instances } = value;
  const current = series[chosen];
  return (
    <>
      {title}
      {back}
      {study.description && <p className="viewer-study">{study.description}</p>}
      <div className="viewer">
        <nav aria-label="Series" className="series-list">
          <ul>
            {series.map((s, i) => (
              <li key={s.uid}>
                <button
                  type="button"
                  className="series"
                  aria-pressed={i === chosen}
                  onClick={() => setChosen(i)}
                >
                  <Thumb study={study.uid} series={s} go={thumbs} onRefused={setRefused} />
                  <span className="series-text">
                    <strong>{s.description || `Series ${s.number ?? i + 1}`}</strong>
                    <span>
                      {s.modality} · {s.instances} {s.instances === 1 ? "image" : "images"}
                    </span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </nav>
        {current ? (
          <Stage
            key={current.uid}
            study={study.uid}
            series={current}
            instances={instances.get(current.uid) ?? []}
            onRefused={setRefused}
            onDrawn={drawn}
          />
        ) : (
          <p>This study has no series to show.</p>
        )}
      </div>
    </>
  );
}

function isRefusal(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 403 || e.status === 404);
}

function Refusal({ error }: { error: unknown }) {
  const forbidden = error instanceof ApiError && error.status === 403;
  return (
    <div className="note error" role="alert">
      <p>
        <strong>You cannot view this study.</strong>
      </p>
      <p>
        {forbidden
          ? error.detail
          : "It is not available to you: if it was shared with you, the access has been revoked or has ended. Ask the patient to share it again."}
      </p>
    </div>
  );
}

/** A series' thumbnail (its middle image), drawn on a canvas. */
function Thumb(props: { study: string; series: Series; go: boolean; onRefused: (e: unknown) => void }) {
  const { study, series, go, onRefused } = props;
  const api = useApi();
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!go) return;
    let live = true;
    image(api, thumbnailPath(study, series.uid)).then(
      (bm) => {
        const c = ref.current;
        if (!live || !c) return bm.close();
        c.width = bm.width;
        c.height = bm.height;
        c.getContext("2d")?.drawImage(bm, 0, 0);
        c.dataset["drawn"] = "1";
        bm.close();
      },
      (e: unknown) => {
        if (live && isRefusal(e)) onRefused(e);
      },
    );
    return () => {
      live = false;
    };
  }, [api, go, study, series.uid, onRefused]);
  return <canvas ref={ref} className="thumb" width={64} height={64} aria-hidden="true" />;
}
