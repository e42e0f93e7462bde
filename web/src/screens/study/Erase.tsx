// "Erase this study": the owner deletes the study for good (docs/erasure.md). The owner confirms
// by typing the study's number; the API checks the same confirmation.

import { useState, type FormEvent } from "react";
import { useApp } from "../../app/context";
import { Done, ErrorNote, Pending } from "../../app/ui";

export function EraseSection({ token, onDone }: { token: number; onDone: () => Promise<void> }) {
  const { api } = useApp();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const confirmed = typed.trim() === String(token);

  const erase = async (e: FormEvent) => {
    e.preventDefault();
    if (!confirmed) {
      setError(new Error(`Type ${token} to confirm.`));
      return;
    }
    setBusy("Deleting every file and key, then recording the erasure on the ledger…");
    setError(undefined);
    try {
      const r = await api.erase(token, token);
      setDone(`Study #${token} erased: ${r.files_deleted} files and ${r.keys_deleted} keys deleted.`);
      await onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="erase-h" className="card">
      <h2 id="erase-h">Erase this study</h2>
      <p>
        Erasing deletes every file of this study and every copy of its key, for good: nobody, you included, can open it
        again, and every share ends. The ledger keeps its history (who had access and when, without any medical data).
      </p>
      <ErrorNote error={error} />
      {busy && <Pending>{busy}</Pending>}
      {done && <Done>{done}</Done>}
      <form onSubmit={(e) => void erase(e)}>
        <label htmlFor="erase-confirm">Type {token} to confirm</label>
        <input
          id="erase-confirm"
          inputMode="numeric"
          autoComplete="off"
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
        />
        <button type="submit" className="danger" disabled={busy !== undefined || !confirmed}>
          Erase this study
        </button>
      </form>
    </section>
  );
}
