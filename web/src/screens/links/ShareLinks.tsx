// The owner's share links on a study (docs/share-links.md): make one (the link, its passcode
// shown once, and a QR code), see each link's openings, revoke one.

import { useState, type FormEvent } from "react";
import type { CreatedLink } from "../../api/client";
import { useApp } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { Done, ErrorNote, Pending } from "../../app/ui";
import { until } from "../../lib/format";

export function ShareLinksSection({ token }: { token: number }) {
  const { api } = useApp();
  const links = useAsync(`links-${token}`, () => api.shareLinks(token));
  const [days, setDays] = useState(7);
  const [uses, setUses] = useState(3);
  const [made, setMade] = useState<CreatedLink | undefined>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const expires_at = Math.floor(Date.now() / 1000) + days * 86_400;
      setMade(await api.createLink(token, { expires_at, max_uses: uses }));
      await links.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string) => {
    setError(undefined);
    try {
      await api.revokeLink(token, id);
      setDone("The link was revoked: it no longer opens, and a viewer using it is stopped at once.");
      if (made?.link.id === id) setMade(undefined);
      await links.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="links-h">
      <h2 id="links-h">Share links</h2>
      <p>
        A link lets someone without an account view this study and download its files, with a passcode you give them
        separately. It ends on its date or after its number of openings; every opening is recorded on chain.
      </p>
      <form onSubmit={(e) => void create(e)} className="inline">
        <label htmlFor="link-days">Valid for (days)</label>
        <input id="link-days" type="number" min={1} max={90} value={days} onChange={(e) => setDays(Number(e.target.value))} />
        <label htmlFor="link-uses">Openings allowed</label>
        <input id="link-uses" type="number" min={1} max={100} value={uses} onChange={(e) => setUses(Number(e.target.value))} />
        <button type="submit" disabled={busy}>
          Create a share link
        </button>
      </form>
      {busy && <Pending>Granting the link's access on chain…</Pending>}
      <ErrorNote error={error} />
      {done && <Done>{done}</Done>}
      {made && (
        <div className="note done" role="status" aria-labelledby="made-h">
          <h3 id="made-h">Your new link</h3>
          <p>
            Send this link: <code className="shlink secret">{made.viewer_url}</code>
          </p>
          <p>
            Give this passcode separately (by phone or in person); it is shown only now:{" "}
            <strong className="passcode">{made.passcode}</strong>
          </p>
          <img src={`data:image/png;base64,${made.qr_png_base64}`} alt="QR code of the share link" width={180} height={180} />
        </div>
      )}
      {links.value && links.value.length > 0 && (
        <table>
          <caption>Links to this study</caption>
          <thead>
            <tr>
              <th scope="col">Link</th>
              <th scope="col">Status</th>
              <th scope="col">Openings</th>
              <th scope="col">Ends</th>
              <th scope="col">
                <span className="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {links.value.map((l) => (
              <tr key={l.id}>
                <td>
                  <code>{l.id.slice(0, 8)}</code>
                </td>
                <td>{l.status.replace("_", " ")}</td>
                <td>
                  {l.uses} of {l.max_uses}
                  {lastOpening(l.openings)}
                </td>
                <td>{until(l.expires_at)}</td>
                <td>
                  {l.status !== "revoked" && (
                    <button type="button" className="secondary" onClick={() => void revoke(l.id)}>
                      Revoke link {l.id.slice(0, 8)}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function lastOpening(openings: number[]): string {
  const last = openings.at(-1);
  return last === undefined ? "" : ` (last ${new Date(last * 1000).toLocaleString()})`;
}
