import { useState, type FormEvent } from "react";
import { useApp } from "../../app/context";
import { ErrorNote, Pending } from "../../app/ui";
import { useWalletSigning } from "../../app/Authorize";

const REASONS = [
  { value: "not_mine", label: "This is not my study" },
  { value: "duplicate", label: "I already have this study" },
  { value: "declined", label: "I do not want it recorded" },
  { value: "other", label: "Another reason" },
];

export function ConsentSection({ token, onDone }: { token: number; onDone: () => Promise<void> }) {
  const { api } = useApp();
  const [reason, setReason] = useState("declined");
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const wallet = useWalletSigning(onDone);

  const decide = async (decision: "approve" | "reject") => {
    setBusy(decision === "approve" ? "Recording your consent on the ledger… this takes a few seconds." : "Recording your refusal on the ledger…");
    setError(undefined);
    try {
      const r = await api.consent(token, decision, decision === "reject" ? reason : undefined);
      if (r.kind === "sign") wallet.ask(r.authorization, () => void decide(decision));
      else await onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="consent-h" className="card">
      <h2 id="consent-h">Your consent</h2>
      <p>The issuer released this study to you. Approve it to keep it in your records, or refuse it.</p>
      <ErrorNote error={error} />
      {busy && <Pending>{busy}</Pending>}
      {wallet.panel}
      <button type="button" disabled={busy !== undefined} onClick={() => void decide("approve")}>
        Approve
      </button>
      <form
        className="inline"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void decide("reject");
        }}
      >
        <label htmlFor="reason">Reason for refusing</label>
        <select id="reason" value={reason} onChange={(e) => setReason(e.target.value)}>
          {REASONS.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
        <button type="submit" className="danger" disabled={busy !== undefined}>
          Refuse
        </button>
      </form>
    </section>
  );
}
