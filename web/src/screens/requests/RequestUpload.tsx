// The institution's upload page of a records request (`…/#/request/<id>/<secret>`): no
// account. The access code (given separately) opens it once; then the files are chosen and
// uploaded straight to their signed URLs, and completing starts the same checks as any
// release. The link's secret is taken out of the address bar at once.

import { useState, type FormEvent } from "react";
import type { Api, OpenedRequest } from "../../api/client";
import { Done, ErrorNote, PageTitle, Pending } from "../../app/ui";
import { bytes } from "../../lib/format";
import { put, releaseFiles, type Chosen } from "../../lib/upload";

/** Whether a URL hash is a records-request upload link. */
export function isRequestLink(hash: string): boolean {
  return /^#?\/?request\/rr-[0-9a-f]{64}\/[0-9a-f]{64}$/.test(hash);
}

export function RequestUpload({ api, link }: { api: Api; link: string }) {
  const [code, setCode] = useState("");
  const [opened, setOpened] = useState<OpenedRequest | undefined>();
  const [chosen, setChosen] = useState<Chosen[]>([]);
  const [sent, setSent] = useState<number | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const total = chosen.reduce((n, c) => n + c.file.size, 0);

  const open = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setOpened(await api.openRequest(link, code));
      setCode("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const upload = async (e: FormEvent) => {
    e.preventDefault();
    if (!opened) return;
    setError(undefined);
    setSent(0);
    try {
      const files = releaseFiles(chosen);
      const byPath = new Map(chosen.map((c) => [c.path, c.file]));
      const started = await api.requestFiles(opened.id, opened.upload_token, files);
      let before = 0;
      for (const u of started.uploads) {
        const file = byPath.get(u.path);
        if (!file) continue;
        if (!u.uploaded) await put(u, file, (n) => setSent(before + n));
        before += file.size;
      }
      await api.completeRequest(opened.id, opened.upload_token);
      setDone(`Uploaded ${files.length} files (${bytes(total)}). They are checked against the patient and released to them. Thank you.`);
    } catch (err) {
      setError(err);
    } finally {
      setSent(undefined);
    }
  };

  return (
    <main id="main" tabIndex={-1}>
      <PageTitle>Records request</PageTitle>
      {!opened && (
        <form onSubmit={(e) => void open(e)}>
          <p>Enter the access code you were given separately. It works once.</p>
          <label htmlFor="access-code">Access code</label>
          <input id="access-code" autoComplete="off" required value={code} onChange={(e) => setCode(e.target.value)} />
          <button type="submit" disabled={busy || code.length < 8}>
            Open the request
          </button>
        </form>
      )}
      {busy && <Pending>Opening…</Pending>}
      <ErrorNote error={error} />
      {done && <Done>{done}</Done>}
      {opened && !done && (
        <form onSubmit={(e) => void upload(e)}>
          <dl className="facts">
            <dt>Patient</dt>
            <dd>{opened.patient_name.replace("^", ", ")}</dd>
            <dt>Born</dt>
            <dd>{opened.birth_date}</dd>
            <dt>Patient id</dt>
            <dd>{opened.patient_id}</dd>
            <dt>Requested</dt>
            <dd>{opened.requested}</dd>
            <dt>Upload before</dt>
            <dd>{new Date(opened.deadline * 1000).toLocaleString()}</dd>
          </dl>
          <label htmlFor="request-files">DICOM files</label>
          <input
            id="request-files"
            type="file"
            multiple
            onChange={(e) => setChosen(Array.from(e.target.files ?? []).map((f) => ({ path: f.name, file: f })))}
          />
          <p>
            {chosen.length} files, {bytes(total)}
          </p>
          {sent !== undefined && (
            <p>
              <label htmlFor="rq-progress">Uploading</label> <progress id="rq-progress" max={total} value={sent} />
            </p>
          )}
          <button type="submit" disabled={chosen.length === 0 || sent !== undefined}>
            Upload and send
          </button>
        </form>
      )}
    </main>
  );
}
