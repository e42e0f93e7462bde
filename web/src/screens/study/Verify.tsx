import { useState, type DragEvent } from "react";
import type { Verification } from "../../api/client";
import { useApp } from "../../app/context";
import { ErrorNote, Pending } from "../../app/ui";
import { presentedName, sha256Hex } from "../../lib/bytes";

/** Hashes files the user holds (in the browser; nothing is uploaded) and checks them. */
export function VerifySection({ token }: { token: number }) {
  const { api } = useApp();
  const [busy, setBusy] = useState<string | undefined>();
  const [result, setResult] = useState<Verification | undefined>();
  const [error, setError] = useState<unknown>();
  const [over, setOver] = useState(false);

  const check = async (list: File[]) => {
    if (list.length === 0) return;
    setError(undefined);
    setResult(undefined);
    try {
      const digests: { name: string; sha256: string }[] = [];
      for (const [i, f] of list.entries()) {
        setBusy(`Computing checksums… ${i + 1} of ${list.length}`);
        digests.push({ name: presentedName(f.webkitRelativePath, f.name), sha256: await sha256Hex(await f.arrayBuffer()) });
      }
      setBusy("Checking against the study…");
      setResult(await api.verify(token, digests));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void check(Array.from(e.dataTransfer.files));
  };

  return (
    <section aria-labelledby="verify-h">
      <h2 id="verify-h">Verify your copy</h2>
      <div
        className={over ? "drop over" : "drop"}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <p>Drop the study's files here, or choose them. Only their checksums leave this computer.</p>
        <label htmlFor="verify-files">Files to verify</label>
        <input id="verify-files" type="file" multiple onChange={(e) => void check(Array.from(e.target.files ?? []))} />
      </div>
      <ErrorNote error={error} />
      {busy && <Pending>{busy}</Pending>}
      {result && (
        <div role="status" className={result.root_matches ? "note done" : "note error"}>
          <p>
            <strong>
              {result.root_matches
                ? "Your files are exactly the study as released."
                : "Your files differ from the study as released."}
            </strong>
          </p>
          <ul>
            <li>{result.matching.length} matching</li>
            <li>
              {result.differs.length} differing{result.differs.length > 0 && `: ${result.differs.join(", ")}`}
            </li>
            <li>
              {result.missing.length} missing{result.missing.length > 0 && `: ${result.missing.join(", ")}`}
            </li>
            <li>
              {result.extra.length} extra{result.extra.length > 0 && `: ${result.extra.join(", ")}`}
            </li>
          </ul>
        </div>
      )}
    </section>
  );
}
