// The page a share link opens (`…/#shlink:/…`): no account. It asks for the passcode, opens
// a read-only session (its token in memory only), then shows the study's images in the
// DICOMweb viewer (screens/viewer, under the link's session) and its files to download.
// The link's key is taken out of the address bar at once, so it stays in no history entry;
// the passcode goes in a POST body, never in a URL.

import { useState, type FormEvent } from "react";
import { Api, type StudyFile } from "../../api/client";
import { Done, ErrorNote, PageTitle, Pending } from "../../app/ui";
import { readWithProgress } from "../../lib/bytes";
import { bytes, until } from "../../lib/format";
import { ApiCtx } from "../../app/context";
import { Viewer } from "../viewer/Viewer";

/** Whether a URL hash holds a share link. */
export function isShareLink(hash: string): boolean {
  return hash.replace(/^#/, "").startsWith("shlink:/");
}

interface Opened {
  token: number;
  ends: number;
  files: StudyFile[];
}

export function OpenLink({ api, link }: { api: Api; link: string }) {
  const [passcode, setPasscode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [opened, setOpened] = useState<Opened | undefined>();
  const [saved, setSaved] = useState<string | undefined>();

  const open = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const s = await api.openLink(link, passcode);
      setPasscode("");
      const files = await api.files(s.token_id);
      setOpened({ token: s.token_id, ends: s.link_expires_at, files });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const save = async (f: StudyFile) => {
    if (!opened) return;
    setError(undefined);
    try {
      const res = await api.file(opened.token, f.path);
      const data = await readWithProgress(res, () => undefined);
      const url = URL.createObjectURL(new Blob([new Uint8Array(data)], { type: "application/dicom" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = f.path.split("/").pop() ?? "file.dcm";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setSaved(`Saved ${f.path} (${bytes(data.length)}).`);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <main id="main" tabIndex={-1}>
      <PageTitle>A study shared with you</PageTitle>
      {!opened && (
        <form onSubmit={(e) => void open(e)}>
          <p>The patient gave you a passcode separately. Enter it to view the study; every opening is recorded.</p>
          <label htmlFor="passcode">Passcode</label>
          <input
            id="passcode"
            type="password"
            autoComplete="off"
            required
            value={passcode}
            onChange={(e) => setPasscode(e.target.value)}
          />
          <button type="submit" disabled={busy || passcode.length === 0}>
            Open the study
          </button>
        </form>
      )}
      {busy && <Pending>Opening…</Pending>}
      <ErrorNote error={error} />
      {saved && <Done>{saved}</Done>}
      {opened && (
        <section aria-labelledby="shared-files-h">
          <h2 id="shared-files-h">Study #{opened.token}</h2>
          <p>You can view and download until {until(opened.ends)}, or until the patient revokes the link.</p>
          <table>
            <caption>Files</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Size</th>
                <th scope="col">
                  <span className="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {opened.files.map((f) => (
                <tr key={f.path}>
                  <td>{f.path}</td>
                  <td>{bytes(f.size)}</td>
                  <td>
                    <button type="button" className="secondary" onClick={() => void save(f)}>
                      Download {f.path}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {opened && (
        <section aria-label="The study's images" className="link-viewer">
          <ApiCtx.Provider value={api}>
            <Viewer token={opened.token} embedded />
          </ApiCtx.Provider>
        </section>
      )}
    </main>
  );
}
