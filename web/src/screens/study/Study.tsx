// One study: what it is, consent, who has access (share, revoke), download, verify and the
// history from the chain.

import type { AccessReport, StudyView, TrailEntry } from "../../api/client";
import { ApiError } from "../../api/problem";
import { useApp } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { Address, ErrorNote, PageTitle, Pending } from "../../app/ui";
import { statusWords } from "../../lib/format";
import { AccessSection } from "./Access";
import { ConsentSection } from "./Consent";
import { DownloadSection } from "./Download";
import { HistorySection } from "./History";
import { VerifySection } from "./Verify";
import { EraseSection } from "./Erase";
import { ShareLinksSection } from "../links/ShareLinks";

interface Loaded {
  study: StudyView;
  access: AccessReport | undefined;
  history: TrailEntry[];
}

export function Study({ token }: { token: number }) {
  const { api } = useApp();
  const loaded = useAsync<Loaded>(String(token), async () => {
    const study = await api.study(token);
    const [a, h] = await Promise.allSettled([
      study.my_role === "owner" || study.my_role === "sharer" ? api.access(token) : Promise.resolve(undefined),
      api.history(token),
    ]);
    return {
      study,
      access: a.status === "fulfilled" ? a.value : undefined,
      history: h.status === "fulfilled" ? h.value : [],
    };
  });
  const { error } = loaded;
  const load = loaded.reload;
  const study = loaded.value?.study;
  const access = loaded.value?.access;
  const history = loaded.value?.history;

  if (error instanceof ApiError && error.status === 404) {
    return (
      <>
        <PageTitle>Study #{token}</PageTitle>
        <p className="note error" role="alert">
          This study is not available to you. If it was shared with you, the access has been revoked or has ended;
          ask the patient to share it again.
        </p>
        <p>
          <a href="#/studies/shared">Back to the studies shared with you</a>
        </p>
      </>
    );
  }
  if (error) {
    return (
      <>
        <PageTitle>Study #{token}</PageTitle>
        <ErrorNote error={error} />
      </>
    );
  }
  if (!study) {
    return (
      <>
        <PageTitle>Study #{token}</PageTitle>
        <Pending>Loading the study…</Pending>
      </>
    );
  }
  const owner = study.my_role === "owner";
  const files = study.files ?? [];
  return (
    <>
      <PageTitle>Study #{study.token_id}</PageTitle>
      <section aria-labelledby="about-h">
        <h2 id="about-h">About</h2>
        <dl className="facts">
          <dt>Status</dt>
          <dd>{statusWords(study.status)}</dd>
          <dt>Issuer</dt>
          <dd>
            <Address value={study.issuer} />
          </dd>
          <dt>Owner</dt>
          <dd>
            <Address value={study.owner} />
          </dd>
          <dt>Your role</dt>
          <dd>{study.my_role ?? "none"}</dd>
          <dt>Files</dt>
          <dd>{study.file_count}</dd>
          <dt>Series</dt>
          <dd>{seriesCount(study)}</dd>
          <dt>Checksum</dt>
          <dd>
            {study.checksum_root ? (
              <>
                Checksum root <Address value={study.checksum_root} /> over {files.length} files, committed on chain
                at release (ledger {study.minted_ledger}). Verify your copy below.
              </>
            ) : study.status === "erased" ? (
              "Erased with the study: the commitment on chain was cleared."
            ) : (
              "Only a holder of the study key sees the checksum root."
            )}
          </dd>
        </dl>
        <Summary summary={study.summary} />
        {study.status === "active" && files.length > 0 && (
          <p>
            <a className="button" href={`#/studies/${study.token_id}/view`}>
              View the images
            </a>
          </p>
        )}
      </section>
      {owner && study.status === "pending" && <ConsentSection token={token} onDone={load} />}
      {access && (
        <AccessSection
          token={token}
          access={access}
          canRevoke={owner}
          canShare={study.status === "active"}
          isOwner={owner && study.status === "active"}
          onChange={load}
        />
      )}
      {owner && study.status === "active" && <ShareLinksSection token={token} />}
      {files.length > 0 && <DownloadSection token={token} files={files} />}
      {files.length > 0 && <VerifySection token={token} />}
      {owner && study.status === "active" && <EraseSection token={token} onDone={load} />}
      {study.status === "erased" && (
        <p className="note" role="status">
          This study was erased: its files and every copy of its key are deleted for good. Its history below stays
          (addresses and times only, no medical data).
        </p>
      )}
      <HistorySection history={history} />
    </>
  );
}

function seriesCount(study: StudyView): string {
  const s = study.summary as Record<string, unknown> | null | undefined;
  const series = s?.["series"];
  if (Array.isArray(series)) return String(series.length);
  if (typeof series === "number") return String(series);
  const files = study.files;
  if (files && files.length > 0) {
    return String(new Set(files.map((f) => (f.path.includes("/") ? f.path.split("/")[0] : ""))).size);
  }
  return "—";
}

function show(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.map(show).join(", ");
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}: ${show(x)}`)
    .join("; ");
}

function Summary({ summary }: { summary: StudyView["summary"] }) {
  if (!summary || typeof summary !== "object") return null;
  const entries = Object.entries(summary as Record<string, unknown>).filter(([k]) => k !== "series");
  const series = (summary as Record<string, unknown>)["series"];
  return (
    <>
      <h3>De-identified summary</h3>
      <dl className="facts">
        {entries.map(([k, v]) => (
          <div key={k} className="pair">
            <dt>{k.replace(/_/g, " ")}</dt>
            <dd>{show(v)}</dd>
          </div>
        ))}
      </dl>
      {Array.isArray(series) && series.length > 0 && (
        <table>
          <caption>Series</caption>
          <thead>
            <tr>
              {Object.keys(series[0] as Record<string, unknown>).map((k) => (
                <th scope="col" key={k}>
                  {k.replace(/_/g, " ")}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {series.map((row, i) => (
              <tr key={i}>
                {Object.values(row as Record<string, unknown>).map((v, j) => (
                  <td key={j}>{show(v)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
