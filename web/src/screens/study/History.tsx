import type { TrailEntry } from "../../api/client";
import { Address, Pending } from "../../app/ui";
import { eventWords } from "../../lib/format";

export function HistorySection({ history }: { history: TrailEntry[] | undefined }) {
  return (
    <section aria-labelledby="history-h">
      <h2 id="history-h">History</h2>
      <p>Every step is recorded on the Stellar ledger; each entry names its transaction.</p>
      {!history && <Pending>Reading the history from the ledger…</Pending>}
      {history && history.length === 0 && <p>No events yet.</p>}
      {history && history.length > 0 && (
        <ol className="timeline">
          {history.map((e, i) => (
            <li key={`${e.ledger}-${i}`} data-kind={e.kind}>
              <strong>{eventWords(e.kind)}</strong>{" "}
              <time dateTime={e.closed_at}>{new Date(e.closed_at).toLocaleString()}</time>
              <div className="meta">
                ledger {e.ledger} · transaction{" "}
                {e.tx_hash ? <Address value={e.tx_hash} /> : <span>not reported by the node</span>}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
