// The account: how this session signed in, the authenticator (TOTP enrollment with its QR
// code, then recovery codes shown once), and signing out everywhere.

import { useState, type FormEvent } from "react";
import type { TotpEnrollment } from "../../api/client";
import { useApp } from "../../app/context";
import { Address, ErrorNote, PageTitle, Pending } from "../../app/ui";

export function Account({ signOut }: { signOut: (everywhere: boolean) => Promise<void> }) {
  const { api, me, reloadMe } = useApp();
  const [enrollment, setEnrollment] = useState<TotpEnrollment | undefined>();
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState<string[] | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();

  const run = async (label: string, f: () => Promise<void>) => {
    setBusy(label);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  };

  const confirm = (e: FormEvent) => {
    e.preventDefault();
    void run("Checking the code…", async () => {
      const r = await api.totpConfirm(code.trim());
      setRecovery(r.recovery_codes);
      setEnrollment(undefined);
      await reloadMe();
    });
  };

  const wallet = me.email === null || me.email === undefined;
  return (
    <>
      <PageTitle>Your account</PageTitle>
      <dl className="facts">
        <dt>Email</dt>
        <dd>{me.email ?? "none (a wallet account)"}</dd>
        <dt>Stellar address</dt>
        <dd>
          <Address value={me.address} />
        </dd>
        <dt>Roles</dt>
        <dd>{me.roles.join(", ")}</dd>
        <dt>Signed in with</dt>
        <dd>{me.amr}</dd>
        <dt>Signed in at</dt>
        <dd>{new Date(me.signed_in_at * 1000).toLocaleString()}</dd>
        <dt>Automatic sign-out after</dt>
        <dd>{Math.round(me.idle_timeout / 60)} minutes without activity</dd>
      </dl>
      <ErrorNote error={error} />
      {busy && <Pending>{busy}</Pending>}
      <section aria-labelledby="mfa-h" className="card">
        <h2 id="mfa-h">Authenticator app</h2>
        {wallet && <p>Your wallet signs you in; an authenticator is for email accounts.</p>}
        {!wallet && me.mfa.totp === "enrolled" && !recovery && (
          <p>
            Enrolled. You have {me.mfa.recovery_codes_left} unused recovery codes.
          </p>
        )}
        {!wallet && me.mfa.totp !== "enrolled" && !enrollment && (
          <>
            <p>Add a second step to signing in: a 6-digit code from an authenticator app.</p>
            <button
              type="button"
              disabled={busy !== undefined}
              onClick={() => void run("Preparing…", async () => setEnrollment(await api.totpEnroll()))}
            >
              Set up an authenticator
            </button>
          </>
        )}
        {enrollment && (
          <form onSubmit={confirm}>
            <p>Scan this QR code with your authenticator app, or type the key in by hand.</p>
            <img
              className="qr"
              src={`data:image/png;base64,${enrollment.qr_png_base64}`}
              alt="QR code for your authenticator app"
              width={200}
              height={200}
            />
            <p>
              Key: <code className="secret">{enrollment.secret}</code>
            </p>
            <label htmlFor="totp-code">Code shown by the app</label>
            <input
              id="totp-code"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]{6}"
              maxLength={6}
              required
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
            <button type="submit" disabled={busy !== undefined}>
              Confirm
            </button>
          </form>
        )}
        {recovery && (
          <div role="status">
            <p>
              <strong>Your authenticator is set up.</strong> Keep these recovery codes somewhere safe: each signs you in
              once if you lose the app. They are shown only now.
            </p>
            <ul className="codes">
              {recovery.map((c) => (
                <li key={c}>
                  <code>{c}</code>
                </li>
              ))}
            </ul>
          </div>
        )}
      </section>
      <section aria-labelledby="out-h" className="card">
        <h2 id="out-h">Sign out</h2>
        <p>Sign out of every browser and device where you are signed in, for example after using a shared computer.</p>
        <button type="button" className="danger" onClick={() => void signOut(true)}>
          Sign out everywhere
        </button>
      </section>
    </>
  );
}
