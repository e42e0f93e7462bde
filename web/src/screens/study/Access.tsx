import { useState, type FormEvent } from "react";
import type { AccessReport } from "../../api/client";
import { useApp } from "../../app/context";
import { Address, Done, ErrorNote, Pending } from "../../app/ui";
import { endOfDay, until } from "../../lib/format";
import { useWalletSigning } from "../../app/Authorize";

function inDays(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function AccessSection(props: {
  token: number;
  access: AccessReport;
  canRevoke: boolean;
  canShare: boolean;
  /** The owner of an active study may also re-key on revoke. */
  isOwner?: boolean;
  onChange: () => Promise<void>;
}) {
  const { token, access, canRevoke, canShare, onChange } = props;
  const isOwner = props.isOwner ?? false;
  const { api } = useApp();
  const [to, setTo] = useState("");
  const [role, setRole] = useState<"viewer" | "sharer">("viewer");
  const [date, setDate] = useState(inDays(30));
  const [busy, setBusy] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const wallet = useWalletSigning(onChange);

  const act = async (label: string, f: () => Promise<string>) => {
    setBusy(label);
    setDone(undefined);
    setError(undefined);
    try {
      const msg = await f();
      await onChange();
      setDone(msg);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  const share = (e: FormEvent) => {
    e.preventDefault();
    const end = endOfDay(date);
    if (end === undefined) {
      setError(new Error("Until: choose a valid date."));
      return;
    }
    if (end * 1000 <= Date.now()) {
      setError(new Error("Until: choose a date in the future."));
      return;
    }
    void act("Sharing on the ledger… this takes a few seconds.", async () => {
      const r = await api.share(token, to.trim(), role, end);
      if (r.kind === "sign") {
        wallet.ask(r.authorization);
        return "Your wallet must sign the share: see below.";
      }
      setTo("");
      return `Shared with ${to.trim()} until ${until(end)}.`;
    });
  };

  return (
    <section aria-labelledby="access-h">
      <h2 id="access-h">Who has access</h2>
      <ErrorNote error={error} />
      {busy && <Pending>{busy}</Pending>}
      {done && <Done>{done}</Done>}
      {wallet.panel}
      <table>
        <caption className="sr-only">People with access to this study</caption>
        <thead>
          <tr>
            <th scope="col">Who</th>
            <th scope="col">Role</th>
            <th scope="col">Until</th>
            <th scope="col">Shared by</th>
            {canRevoke && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          <tr>
            <td>
              <Address value={access.owner} />
            </td>
            <td>owner</td>
            <td>no end</td>
            <td>—</td>
            {canRevoke && <td />}
          </tr>
          <tr>
            <td>
              <Address value={access.issuer} />
            </td>
            <td>issuer</td>
            <td>—</td>
            <td>—</td>
            {canRevoke && <td />}
          </tr>
          {access.grants.map((g) => (
            <tr key={g.grantee}>
              <td>
                <Address value={g.grantee} />
              </td>
              <td>{g.role}</td>
              <td>{until(g.expires_at)}</td>
              <td>
                <Address value={g.granter} />
              </td>
              {canRevoke && (
                <td>
                  <button
                    type="button"
                    className="danger"
                    disabled={busy !== undefined}
                    aria-label={`Revoke access of ${g.grantee}`}
                    onClick={() =>
                      void act("Revoking on the ledger…", async () => {
                        const r = await api.revoke(token, g.grantee);
                        if (r.kind === "sign") {
                          wallet.ask(r.authorization);
                          return "Your wallet must sign the revocation: see below.";
                        }
                        return "Access revoked.";
                      })
                    }
                  >
                    Revoke
                  </button>{" "}
                  {isOwner && (
                    <button
                      type="button"
                      className="danger"
                      disabled={busy !== undefined}
                      aria-label={`Revoke and re-key: ${g.grantee}`}
                      title="Also gives the study a new key and re-encrypts every file, so a key the person kept no longer opens it"
                      onClick={() =>
                        void act("Revoking and re-encrypting every file under a new key… this may take a while.", async () => {
                          const r = await api.revoke(token, g.grantee, true);
                          if (r.kind === "sign") {
                            // Wallet owners get 409 for a re-key (docs/re-key.md); kept for the type.
                            wallet.ask(r.authorization);
                            return "Your wallet must sign the revocation: see below.";
                          }
                          const n = r.value.rekey?.files ?? 0;
                          return `Access revoked, and the study re-keyed: ${n} files re-encrypted under a new key that ${g.grantee} does not hold.`;
                        })
                      }
                    >
                      Revoke and re-key
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {!canShare && <p>The study can be shared once it is active (after your consent).</p>}
      {canShare && (
      <form onSubmit={share} className="card" aria-labelledby="share-h">
        <h3 id="share-h">Share this study</h3>
        <label htmlFor="share-to">Email or Stellar address</label>
        <input id="share-to" required value={to} onChange={(e) => setTo(e.target.value)} autoComplete="off" />
        <label htmlFor="share-role">Role</label>
        <select id="share-role" value={role} onChange={(e) => setRole(e.target.value as "viewer" | "sharer")}>
          <option value="viewer">Viewer (may view and download)</option>
          <option value="sharer">Sharer (may also share as viewer)</option>
        </select>
        <label htmlFor="share-until">Until (end of that day)</label>
        <input id="share-until" type="date" required value={date} onChange={(e) => setDate(e.target.value)} />
        <button type="submit" disabled={busy !== undefined}>
          Share
        </button>
      </form>
      )}
    </section>
  );
}
