// Emergency access (break-glass), docs/emergency-access.md. An active trusted issuer (a
// hospital's emergency department) opens a study without the patient's consent, with a
// reason from the contract's closed list, a bounded time and a note kept off the ledger;
// then it views and downloads the study as a Viewer. Everyone reviews the break-glass
// accesses on their own studies (the admin: all of them) and ends an active one; the admin
// can also suspend the issuer, which ends all of its emergency accesses at once.

import { useState, type FormEvent } from "react";
import type { EmergencyRecord } from "../../api/client";
import { useApp } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { Address, Done, ErrorNote, PageTitle, Pending } from "../../app/ui";
import { until } from "../../lib/format";
import {
  appendPage,
  breakGlassRequest,
  DEFAULT_HOURS,
  FormError,
  isActive,
  MAX_HOURS,
  MAX_NOTE,
  REASONS,
  reasonWords,
  stateWords,
  type BreakGlassForm,
} from "./emergency";

const PAGE = 20;

export function Emergency() {
  const { me } = useApp();
  const isIssuer = me.roles.includes("issuer");
  const isAdmin = me.roles.includes("admin");
  const [opened, setOpened] = useState(0);
  return (
    <>
      <PageTitle>Emergency access</PageTitle>
      {isIssuer && <BreakGlass onOpened={() => setOpened((n) => n + 1)} />}
      <Review key={opened} admin={isAdmin} me={me.address} />
    </>
  );
}

const EMPTY: BreakGlassForm = { token: "", reason: "unconscious", hours: String(DEFAULT_HOURS), note: "", confirmed: false };

function BreakGlass({ onOpened }: { onOpened: () => void }) {
  const { api } = useApp();
  const [form, setForm] = useState<BreakGlassForm>(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [record, setRecord] = useState<EmergencyRecord | undefined>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setRecord(undefined);
    let req: ReturnType<typeof breakGlassRequest>;
    try {
      req = breakGlassRequest(form);
    } catch (err) {
      setError(err);
      if (err instanceof FormError) document.getElementById(`bg-${err.field}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      const r = await api.openEmergency(req.token, req.body);
      setRecord(r);
      setForm(EMPTY);
      onOpened();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const set = (k: "token" | "reason" | "hours" | "note") => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });
  const noteLength = [...form.note].length;

  return (
    <section aria-labelledby="bg-h">
      <h2 id="bg-h">Open a study in an emergency</h2>
      <div className="note error" role="note" aria-label="Before you break the glass">
        <p>
          <strong>For emergencies only.</strong> You open the study without the patient's consent. The patient is
          notified at once by email; the access, your institution and the reason are recorded on the ledger for good;
          the patient and the MediMint admin review every emergency access, can end it at any time, and the admin can
          suspend an institution that misuses it.
        </p>
      </div>
      {record && (
        <Done>
          Study #{record.token_id} is open to you as a viewer until {until(record.expires_at)}. The patient was notified.{" "}
          <a href={`#/studies/${record.token_id}/view`}>View the images</a> ·{" "}
          <a href={`#/studies/${record.token_id}`}>Study page and downloads</a>
        </Done>
      )}
      <ErrorNote error={error} />
      {busy && <Pending>Opening the study on the ledger… this takes a few seconds.</Pending>}
      <form onSubmit={(e) => void submit(e)} className="card" noValidate>
        <label htmlFor="bg-token">Study number (token id)</label>
        <input
          id="bg-token"
          inputMode="numeric"
          autoComplete="off"
          required
          value={form.token}
          onChange={set("token")}
          aria-invalid={error instanceof FormError && error.field === "token" ? true : undefined}
        />
        <label htmlFor="bg-reason">Reason (recorded on the ledger)</label>
        <select id="bg-reason" value={form.reason} onChange={set("reason")}>
          {REASONS.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
        <label htmlFor="bg-hours">For how many hours (1 to {MAX_HOURS}; the admin may allow fewer)</label>
        <input
          id="bg-hours"
          type="number"
          min={1}
          max={MAX_HOURS}
          required
          value={form.hours}
          onChange={set("hours")}
          aria-invalid={error instanceof FormError && error.field === "hours" ? true : undefined}
        />
        <label htmlFor="bg-note">Why the study is needed now (kept off the ledger; the patient and the admin read it)</label>
        <textarea
          id="bg-note"
          rows={3}
          required
          maxLength={MAX_NOTE}
          value={form.note}
          onChange={set("note")}
          aria-describedby="bg-note-count"
          aria-invalid={error instanceof FormError && error.field === "note" ? true : undefined}
        />
        <p id="bg-note-count" className="hint">
          {noteLength} of {MAX_NOTE} characters
        </p>
        <label className="inline-label" htmlFor="bg-confirmed">
          <input
            id="bg-confirmed"
            type="checkbox"
            checked={form.confirmed}
            onChange={(e) => setForm({ ...form, confirmed: e.target.checked })}
          />
          I confirm this is an emergency, and I understand the patient is notified and the access is audited.
        </label>
        <button type="submit" className="danger" disabled={busy}>
          Break the glass: open the study
        </button>
      </form>
    </section>
  );
}

function Review({ admin, me }: { admin: boolean; me: string }) {
  const { api } = useApp();
  const first = useAsync("emergency-review", () => api.emergencies(undefined, PAGE));
  const [more, setMore] = useState<{ items: EmergencyRecord[]; next: string | undefined } | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();

  const shown = more ?? (first.value ? appendPage([], first.value) : undefined);

  const act = async (label: string, f: () => Promise<string>) => {
    setBusy(label);
    setDone(undefined);
    setError(undefined);
    try {
      const msg = await f();
      setMore(undefined);
      await first.reload();
      setDone(msg);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  const next = async () => {
    if (!shown?.next) return;
    setError(undefined);
    try {
      setMore(appendPage(shown.items, await api.emergencies(shown.next, PAGE)));
    } catch (e) {
      setError(e);
    }
  };

  const items = shown?.items ?? [];
  return (
    <section aria-labelledby="review-h">
      <h2 id="review-h">{admin ? "Every emergency access" : "Emergency accesses to review"}</h2>
      <p>
        {admin
          ? "Every break-glass access of every issuer, newest first. End one that should not continue; suspend an issuer that misuses it (that ends all of its emergency accesses)."
          : "Every time a care provider opened one of your studies in an emergency (and those you opened), newest first. End an access you did not expect."}
      </p>
      <ErrorNote error={error ?? first.error} />
      {busy && <Pending>{busy}</Pending>}
      {done && <Done>{done}</Done>}
      {first.loading && !shown && <Pending>Reading the review…</Pending>}
      {shown && items.length === 0 && <p>No emergency access so far.</p>}
      {items.length > 0 && (
        <table>
          <caption className="sr-only">Emergency accesses</caption>
          <thead>
            <tr>
              <th scope="col">Study</th>
              <th scope="col">Opened by</th>
              <th scope="col">Reason and note</th>
              <th scope="col">Opened</th>
              <th scope="col">Until</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => {
              const mayEnd = isActive(r) && (admin || r.patient === me);
              return (
                <tr key={`${r.token_id}/${r.issuer}/${r.opened_at}`}>
                  <td>
                    <a href={`#/studies/${r.token_id}`}>#{r.token_id}</a>
                  </td>
                  <td>
                    <Address value={r.issuer} />
                    {r.issuer === me && " (you)"}
                  </td>
                  <td>
                    <strong>{reasonWords(r.reason)}</strong>
                    <br />
                    {r.note}
                  </td>
                  <td>{until(r.opened_at)}</td>
                  <td>{until(r.expires_at)}</td>
                  <td>{stateWords(r.state)}</td>
                  <td>
                    {mayEnd && (
                      <button
                        type="button"
                        className="danger"
                        disabled={busy !== undefined}
                        aria-label={`End access of ${r.issuer} to study #${r.token_id}`}
                        onClick={() =>
                          void act("Ending the access on the ledger…", async () => {
                            await api.endEmergency(r.token_id, r.issuer);
                            return `The emergency access to study #${r.token_id} ended.`;
                          })
                        }
                      >
                        End access
                      </button>
                    )}{" "}
                    {admin && (
                      <button
                        type="button"
                        className="secondary"
                        disabled={busy !== undefined}
                        aria-label={`Suspend issuer ${r.issuer}`}
                        onClick={() => {
                          if (!window.confirm(`Suspend issuer ${r.issuer}? It can no longer release studies or open any in an emergency, and its open emergency accesses end.`)) return;
                          void act("Suspending the issuer on the ledger…", async () => {
                            await api.issuerAction(r.issuer, "suspend");
                            return `Issuer ${r.issuer} is suspended; its emergency accesses ended. Reinstate it on the Issuers page.`;
                          });
                        }}
                      >
                        Suspend issuer
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {shown?.next && (
        <p>
          <button type="button" className="secondary" onClick={() => void next()}>
            Show older accesses
          </button>
        </p>
      )}
    </section>
  );
}
