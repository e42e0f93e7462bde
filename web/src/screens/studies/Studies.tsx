// The caller's studies by relation (owned / shared with me / pending consent), with counts
// and pages.

import { useEffect, useState } from "react";
import type { Relation, StudyPage } from "../../api/client";
import { useApp } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { ErrorNote, PageTitle, Pending } from "../../app/ui";
import { short, statusWords, until } from "../../lib/format";
import { href } from "../../lib/route";

const PAGE = 10;
const COUNT_LIMIT = 50;

const TABS: { role: Relation; label: string }[] = [
  { role: "owned", label: "Mine" },
  { role: "shared", label: "Shared with me" },
  { role: "pending", label: "Waiting for consent" },
];

type Counts = Partial<Record<Relation, string>>;

export function Studies({ role }: { role: Relation }) {
  const { api } = useApp();
  const [counts, setCounts] = useState<Counts>({});
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const { value: page, error } = useAsync<StudyPage>(`${role}:${cursor ?? ""}`, () => api.studies(role, cursor, PAGE));

  useEffect(() => {
    let live = true;
    for (const t of TABS) {
      api
        .studies(t.role, undefined, COUNT_LIMIT)
        .then((p) => {
          if (live) setCounts((c) => ({ ...c, [t.role]: p.next_cursor ? `${COUNT_LIMIT}+` : String(p.items.length) }));
        })
        .catch(() => undefined);
    }
    return () => {
      live = false;
    };
  }, [api]);


  const label = TABS.find((t) => t.role === role)?.label ?? "Studies";
  return (
    <>
      <PageTitle>Studies</PageTitle>
      <nav aria-label="Study lists" className="tabs">
        <ul>
          {TABS.map((t) => (
            <li key={t.role}>
              <a href={href({ name: "studies", role: t.role })} aria-current={t.role === role ? "page" : undefined}>
                {t.label} <span className="count">{counts[t.role] ?? "…"}</span>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <h2>{label}</h2>
      <ErrorNote error={error} />
      {!page && !error && <Pending>Loading studies…</Pending>}
      {page && page.items.length === 0 && <p>No studies here.</p>}
      {page && page.items.length > 0 && (
        <table>
          <caption className="sr-only">{label}</caption>
          <thead>
            <tr>
              <th scope="col">Study</th>
              <th scope="col">Status</th>
              <th scope="col">Issuer</th>
              <th scope="col">Files</th>
              <th scope="col">Your role</th>
              <th scope="col">Until</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((s) => (
              <tr key={s.token_id}>
                <td>
                  <a href={href({ name: "study", token: s.token_id })}>Study #{s.token_id}</a>
                </td>
                <td>{statusWords(s.status)}</td>
                <td>
                  <code title={s.issuer}>{short(s.issuer)}</code>
                </td>
                <td>{s.file_count}</td>
                <td>{s.my_role ?? "—"}</td>
                <td>{s.my_role && s.my_role !== "owner" ? until(s.my_access_until) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        <button type="button" className="secondary" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          className="secondary"
          disabled={!page?.next_cursor}
          onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
        >
          Next page
        </button>
      </div>
    </>
  );
}
