import { useState } from "react";
import type { StudyFile } from "../../api/client";
import { useApp } from "../../app/context";
import { Done, ErrorNote } from "../../app/ui";
import { readWithProgress, zipStore } from "../../lib/bytes";
import { bytes } from "../../lib/format";

/** Downloads every file (decrypted by the API as it streams) into one ZIP, with progress. */
export function DownloadSection({ token, files }: { token: number; files: StudyFile[] }) {
  const { api } = useApp();
  const total = files.reduce((n, f) => n + f.size, 0);
  const [received, setReceived] = useState<number | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();

  const download = async () => {
    setError(undefined);
    setDone(undefined);
    setReceived(0);
    try {
      const out: { name: string; data: Uint8Array }[] = [];
      let before = 0;
      for (const f of files) {
        const res = await api.file(token, f.path);
        const data = await readWithProgress(res, (n) => setReceived(before + n));
        before += data.length;
        out.push({ name: f.path, data });
      }
      const url = URL.createObjectURL(new Blob([zipStore(out)], { type: "application/zip" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `study-${token}.zip`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setDone(`Downloaded ${out.length} files (${bytes(before)}) as study-${token}.zip.`);
    } catch (e) {
      setError(e);
    } finally {
      setReceived(undefined);
    }
  };

  return (
    <section aria-labelledby="download-h">
      <h2 id="download-h">Download</h2>
      <p>
        {files.length} files, {bytes(total)}. They are decrypted as they arrive and saved as one ZIP file.
      </p>
      <ErrorNote error={error} />
      {done && <Done>{done}</Done>}
      {received !== undefined && (
        <p>
          <label htmlFor="dl-progress">Downloading</label>{" "}
          <progress id="dl-progress" max={total} value={received} /> {bytes(received)} of {bytes(total)}
        </p>
      )}
      <button type="button" disabled={received !== undefined} onClick={() => void download()}>
        Download all files
      </button>
    </section>
  );
}
