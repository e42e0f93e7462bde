// The admin's issuers: list, add (with evidence), suspend, reinstate, remove.

import { useState, type FormEvent } from "react";
import type { AddIssuer, IssuerItem } from "../../api/client";
import { useApp } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { Address, Done, ErrorNote, PageTitle, Pending } from "../../app/ui";

const PAGE = 20;
const KINDS = [
  { value: "hospital", label: "Hospital" },
  { value: "imaging_centre", label: "Imaging centre" },
  { value: "physician", label: "Physician" },
  { value: "laboratory", label: "Laboratory" },
];

const EMPTY: AddIssuer = { email: "", name: "", kind: "hospital", jurisdiction: "", evidence: "", address: null };

export function Issuers() {
  const { api } = useApp();
  const list = useAsync<IssuerItem[]>("issuers", () => api.issuers());
  const items = list.value;
  const [page, setPage] = useState(0);
  const [form, setForm] = useState<AddIssuer>(EMPTY);
  const [busy, setBusy] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();

  const load = list.reload;

  const act = async (label: string, f: () => Promise<string>) => {
    setBusy(label);
    setError(undefined);
    setDone(undefined);
    try {
      const msg = await f();
      await load();
      setDone(msg);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  const add = (e: FormEvent) => {
    e.preventDefault();
    const body: AddIssuer = { ...form, address: form.address?.trim() ? form.address.trim() : null };
    void act("Adding the issuer on the ledger… this takes a few seconds.", async () => {
      const r = await api.addIssuer(body);
      setForm(EMPTY);
      return `Added ${body.name} as ${r.address}.`;
    });
  };

  const set = (k: keyof AddIssuer) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const shown = items?.slice(page * PAGE, page * PAGE + PAGE) ?? [];
  const pages = items ? Math.max(1, Math.ceil(items.length / PAGE)) : 1;

  return (
    <>
      <PageTitle>Trusted issuers</PageTitle>
      <ErrorNote error={error ?? list.error} />
      {busy && <Pending>{busy}</Pending>}
      {done && <Done>{done}</Done>}
      {list.loading && !items && <Pending>Reading the registry…</Pending>}
      {items && items.length === 0 && <p>No issuers yet.</p>}
      {shown.length > 0 && (
        <table>
          <caption className="sr-only">Issuers</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Jurisdiction</th>
              <th scope="col">Status</th>
              <th scope="col">Address</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <tr key={i.address}>
                <td>{i.name}</td>
                <td>{i.kind}</td>
                <td>{i.jurisdiction}</td>
                <td>{i.status}</td>
                <td>
                  <Address value={i.address} />
                </td>
                <td className="actions">
                  {i.status.toLowerCase() === "active" ? (
                    <button
                      type="button"
                      className="secondary"
                      disabled={busy !== undefined}
                      aria-label={`Suspend ${i.name}`}
                      onClick={() => void act("Suspending…", async () => (await api.issuerAction(i.address, "suspend"), `Suspended ${i.name}.`))}
                    >
                      Suspend
                    </button>
                  ) : (
                    <button
                      type="button"
                      className="secondary"
                      disabled={busy !== undefined}
                      aria-label={`Reinstate ${i.name}`}
                      onClick={() => void act("Reinstating…", async () => (await api.issuerAction(i.address, "reinstate"), `Reinstated ${i.name}.`))}
                    >
                      Reinstate
                    </button>
                  )}{" "}
                  <button
                    type="button"
                    className="danger"
                    disabled={busy !== undefined}
                    aria-label={`Remove ${i.name}`}
                    onClick={() => {
                      if (window.confirm(`Remove ${i.name} from the trusted issuers?`)) {
                        void act("Removing…", async () => (await api.issuerAction(i.address, "remove"), `Removed ${i.name}.`));
                      }
                    }}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {items && items.length > PAGE && (
        <div className="pager">
          <button type="button" className="secondary" disabled={page === 0} onClick={() => setPage(page - 1)}>
            Previous page
          </button>
          <span>
            Page {page + 1} of {pages}
          </span>
          <button type="button" className="secondary" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
            Next page
          </button>
        </div>
      )}
      <form onSubmit={add} className="card" aria-labelledby="add-h">
        <h2 id="add-h">Add an issuer</h2>
        <label htmlFor="i-name">Name</label>
        <input id="i-name" required value={form.name} onChange={set("name")} />
        <label htmlFor="i-email">Contact email of its IT</label>
        <input id="i-email" type="email" required value={form.email} onChange={set("email")} />
        <label htmlFor="i-kind">Kind</label>
        <select id="i-kind" value={form.kind} onChange={set("kind")}>
          {KINDS.map((k) => (
            <option key={k.value} value={k.value}>
              {k.label}
            </option>
          ))}
        </select>
        <label htmlFor="i-jur">Jurisdiction (e.g. US-CA)</label>
        <input id="i-jur" required value={form.jurisdiction} onChange={set("jurisdiction")} />
        <label htmlFor="i-evidence">Evidence of verification (e.g. the NPI record; only a keyed hash goes on chain)</label>
        <textarea id="i-evidence" required value={form.evidence} onChange={set("evidence")} />
        <label htmlFor="i-address">Its own Stellar address (optional; else a custodial key)</label>
        <input id="i-address" value={form.address ?? ""} onChange={set("address")} />
        <button type="submit" disabled={busy !== undefined}>
          Add issuer
        </button>
      </form>
    </>
  );
}
