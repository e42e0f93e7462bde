// The issuer's releases: the list, a new upload (files straight to storage through the
// API's signed URLs, with progress) and one release's state, with a refusal's report.

import { useEffect, useState } from "react";
import type { ReleasePage, ReleaseState, Schemas } from "../../api/client";

type RefusalProblem = Schemas["RefusalProblem"];
import { useApp } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { ErrorNote, PageTitle, Pending } from "../../app/ui";
import { href, type Route } from "../../lib/route";
import { Upload } from "./Upload";

export function Releases({ route }: { route: Route }) {
  const { me } = useApp();
  if (!me.roles.includes("issuer")) {
    return (
      <>
        <PageTitle>Releases</PageTitle>
        <p className="note error" role="alert">
          Only a trusted issuer releases studies; this account is not one.
        </p>
      </>
    );
  }
  if (route.name === "upload") return <Upload />;
  if (route.name === "release") return <ReleaseView key={route.id} id={route.id} />;
  return <ReleaseList />;
}

export function releaseWords(status: string): string {
  switch (status) {
    case "awaiting_upload":
      return "Waiting for the files";
    case "submitted":
      return "Submitted, waiting to be checked";
    case "processing":
      return "Being checked, encrypted and recorded";
    case "refused":
      return "Refused";
    case "released":
      return "Released, waiting for the patient's consent";
    default:
      return status;
  }
}

const when = (s: number | null | undefined) => (s ? new Date(s * 1000).toLocaleString() : "—");

function ReleaseList() {
  const { api } = useApp();
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const { value: page, error } = useAsync<ReleasePage>(`releases:${cursor ?? ""}`, () => api.releases(cursor, 10));
  return (
    <>
      <PageTitle>Releases</PageTitle>
      <p>
        <a className="button" href={href({ name: "upload" })}>
          Upload a study
        </a>
      </p>
      <ErrorNote error={error} />
      {!page && !error && <Pending>Loading releases…</Pending>}
      {page && page.items.length === 0 && <p>No releases yet.</p>}
      {page && page.items.length > 0 && (
        <table>
          <caption className="sr-only">Your releases, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Release</th>
              <th scope="col">State</th>
              <th scope="col">Files</th>
              <th scope="col">Started</th>
              <th scope="col">Study</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((r) => (
              <tr key={r.release_id}>
                <td>
                  <a href={href({ name: "release", id: r.release_id })}>{r.release_id}</a>
                </td>
                <td>{releaseWords(r.status)}</td>
                <td>{r.files ?? "—"}</td>
                <td>{when(r.started_at ?? r.updated_at)}</td>
                <td>{r.token_id ? <a href={`#/studies/${r.token_id}`}>Study #{r.token_id}</a> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        <button type="button" className="secondary" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          className="secondary"
          disabled={!page?.next_cursor}
          onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
        >
          Next page
        </button>
      </div>
    </>
  );
}

const MOVING = new Set(["submitted", "processing"]);

function ReleaseView({ id }: { id: string }) {
  const { api } = useApp();
  const [state, setState] = useState<ReleaseState | undefined>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    const poll = () => {
      api.release(id).then(
        (s) => {
          if (!live) return;
          setState(s);
          setError(undefined);
          if (MOVING.has(s.status)) timer = window.setTimeout(poll, 1000);
        },
        (e: unknown) => live && setError(e),
      );
    };
    poll();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [api, id]);

  return (
    <>
      <PageTitle>Release {id}</PageTitle>
      <ErrorNote error={error} />
      {!state && !error && <Pending>Loading the release…</Pending>}
      {state && (
        <>
          <dl className="facts">
            <dt>State</dt>
            <dd data-status={state.status}>{releaseWords(state.status)}</dd>
            <dt>Files</dt>
            <dd>
              {state.status === "awaiting_upload" && state.uploaded !== null && state.uploaded !== undefined
                ? `${state.uploaded} of ${state.files ?? "?"} uploaded`
                : (state.files ?? "—")}
            </dd>
            <dt>Started</dt>
            <dd>{when(state.started_at)}</dd>
            <dt>Last change</dt>
            <dd>{when(state.updated_at)}</dd>
          </dl>
          {MOVING.has(state.status) && (
            <Pending>The files are being checked, encrypted and the study recorded on the ledger…</Pending>
          )}
          {state.status === "released" && state.token_id && (
            <p className="note done" role="status">
              Released as <a href={`#/studies/${state.token_id}`}>study #{state.token_id}</a>. The patient is asked to
              consent.
            </p>
          )}
          {state.status === "refused" && state.refusal && (
            <div className="note error" role="alert">
              <p>
                <strong>The release was refused.</strong> Nothing was recorded; fix what is listed and upload again.
              </p>
              <ul>
                {state.refusal.problems.length > 0
                  ? state.refusal.problems.map((p, i) => <li key={i}>{problemLine(p)}</li>)
                  : state.refusal.text.split("\n").map((l, i) => <li key={i}>{l}</li>)}
              </ul>
            </div>
          )}
        </>
      )}
      <p>
        <a href={href({ name: "releases" })}>All releases</a>
      </p>
    </>
  );
}

function problemLine(p: RefusalProblem): string {
  return `${p.file ? `${p.file}: ` : ""}${p.message}`;
}
