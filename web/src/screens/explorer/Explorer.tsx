// The public explorer (no sign-in): what the chain records, anonymized, from the audit
// index (GET /v1/explorer/*): totals, counts per day, the trusted issuers' public profiles,
// and a token's timeline by its id (addresses only, never names or other PHI).

import { useState, type FormEvent } from "react";
import type { Api, Day, Tally, Timeline } from "../../api/client";
import { ApiError } from "../../api/problem";
import { useAsync } from "../../app/useAsync";
import { Address, ErrorNote, PageTitle, Pending } from "../../app/ui";
import { href } from "../../lib/route";

/** The counts in the order shown, with their words. */
const KINDS: readonly [keyof Tally, string][] = [
  ["releases", "Releases"],
  ["consents", "Consents"],
  ["rejections", "Rejections"],
  ["shares", "Shares"],
  ["accesses", "Accesses"],
  ["revokes", "Revokes"],
  ["withdrawals", "Withdrawals"],
];

export function Explorer({ api, token }: { api: Api; token: number | undefined }) {
  const overview = useAsync("overview", async () => {
    const [totals, days, issuers] = await Promise.all([api.explorerTotals(), api.explorerDays(), api.explorerIssuers()]);
    return { totals, days, issuers };
  });
  const v = overview.value;
  return (
    <>
      <PageTitle>Public explorer</PageTitle>
      <p>
        What MediMint's contracts record, for anyone to check: counts, the trusted issuers and each study token's history.
        Addresses only: no names, no medical data.
      </p>
      <TokenLookup api={api} token={token} />
      {overview.error !== undefined && <ErrorNote error={overview.error} />}
      {!v && overview.error === undefined && <Pending>Reading the index…</Pending>}
      {v && (
        <>
          <section aria-labelledby="totals-h">
            <h2 id="totals-h">Totals</h2>
            <dl className="tally">
              {KINDS.map(([k, words]) => (
                <div key={k} data-kind={k}>
                  <dt>{words}</dt>
                  <dd>{v.totals.totals[k]}</dd>
                </div>
              ))}
              <div data-kind="issuers">
                <dt>Trusted issuers</dt>
                <dd>{v.totals.issuers}</dd>
              </div>
            </dl>
            <p className="hint">
              Indexed up to ledger {v.totals.indexed_ledger} of {v.totals.latest_ledger}
              {v.totals.latest_ledger > v.totals.indexed_ledger
                ? ` (${v.totals.latest_ledger - v.totals.indexed_ledger} behind)`
                : " (up to date)"}
              .
            </p>
          </section>
          <Days days={v.days} />
          <section aria-labelledby="issuers-h">
            <h2 id="issuers-h">Trusted issuers</h2>
            {v.issuers.length === 0 ? (
              <p>No issuer is registered yet.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Jurisdiction</th>
                    <th scope="col">Status</th>
                    <th scope="col">Address</th>
                    <th scope="col">Since ledger</th>
                  </tr>
                </thead>
                <tbody>
                  {v.issuers.map((i) => (
                    <tr key={i.address}>
                      <td>{i.name}</td>
                      <td>{i.kind.replace(/_/g, " ")}</td>
                      <td>{i.jurisdiction}</td>
                      <td>{i.status}</td>
                      <td>
                        <Address value={i.address} />
                      </td>
                      <td>{i.added_ledger}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </>
  );
}

function Days({ days }: { days: Day[] }) {
  const active = days.filter((d) => KINDS.some(([k]) => d[k] > 0));
  return (
    <section aria-labelledby="days-h">
      <h2 id="days-h">Per day</h2>
      {active.length === 0 ? (
        <p>Nothing was recorded in the last {days.length} days.</p>
      ) : (
        <table>
          <caption>
            Days with activity among the last {days.length} (UTC); other days had none.
          </caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {KINDS.map(([k, words]) => (
                <th scope="col" key={k}>
                  {words}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {active
              .slice()
              .reverse()
              .map((d) => (
                <tr key={d.day} data-day={d.day}>
                  <th scope="row">{d.day}</th>
                  {KINDS.map(([k]) => (
                    <td key={k}>{d[k]}</td>
                  ))}
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function TokenLookup({ api, token }: { api: Api; token: number | undefined }) {
  const [text, setText] = useState(token === undefined ? "" : String(token));
  const [wrong, setWrong] = useState<string | undefined>(undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!/^\d{1,10}$/.test(t) || Number(t) > 4294967295) {
      setWrong("A token id is a whole number, like 12.");
      return;
    }
    setWrong(undefined);
    window.location.hash = href({ name: "explorer", token: Number(t) });
  };
  return (
    <section aria-labelledby="token-h">
      <h2 id="token-h">A token's timeline</h2>
      <form onSubmit={submit} className="inline" noValidate>
        <label htmlFor="token-id">Token id</label>
        <input
          id="token-id"
          inputMode="numeric"
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-invalid={wrong !== undefined}
          aria-describedby={wrong ? "token-wrong" : undefined}
        />
        <button type="submit">Show its timeline</button>
        {wrong && (
          <p id="token-wrong" className="note error" role="alert">
            {wrong}
          </p>
        )}
      </form>
      {token !== undefined && <TokenTimeline key={token} api={api} token={token} />}
    </section>
  );
}

function TokenTimeline({ api, token }: { api: Api; token: number }) {
  const t = useAsync<Timeline>(String(token), () => api.explorerToken(token));
  if (t.error instanceof ApiError && t.error.status === 404) {
    return (
      <p className="note info" role="status">
        No token #{token} has been indexed (yet): check the id, or try again in a minute.
      </p>
    );
  }
  if (t.error !== undefined) return <ErrorNote error={t.error} />;
  const v = t.value;
  if (!v) return <Pending>Reading token #{token}…</Pending>;
  return (
    <div className="card" data-token={v.token_id}>
      <h3>Token #{v.token_id}</h3>
      <dl className="facts">
        <dt>Status</dt>
        <dd>{v.status}</dd>
        <dt>Issuer</dt>
        <dd>
          <Address value={v.issuer} />
        </dd>
        <dt>Released in ledger</dt>
        <dd>{v.minted_ledger}</dd>
        <dt>Views and downloads</dt>
        <dd>{v.accesses}</dd>
      </dl>
      <ol className="timeline">
        {v.events.map((e, i) => (
          <li key={i} data-kind={e.kind}>
            <strong>{e.kind.replace(/_/g, " ")}</strong>
            {e.detail ? ` (${e.detail})` : ""}
            <div className="meta">
              ledger {e.ledger}, {new Date(e.closed_at).toUTCString()}
              {e.tx_hash ? (
                <>
                  , transaction <code className="address">{e.tx_hash}</code>
                </>
              ) : null}
            </div>
            {e.parties.length > 0 && (
              <div className="meta">
                {e.parties.map((p) => (
                  <Address key={p} value={p} />
                ))}
              </div>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}
