// The wallet's signature step, shared by consent, share and revoke: a wallet (SEP-10)
// account's action answers 202 with an authorization entry; this shows what is signed, asks
// Freighter when the page has it (`window.freighterApi`, or the extension), else shows the
// entry to copy and takes the signed entry or signature back, then submits it
// (`POST /v1/authorizations/{id}/submit`). Logic and words: lib/authorize.ts.

import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import type { AuthorizationResult, PendingAuthorization } from "../api/client";
import {
  actionWords,
  classifySigned,
  injectedSigner,
  minutesLeft,
  restartable,
  signWithWallet,
  submitErrorWords,
  type AuthEntrySigner,
} from "../lib/authorize";
import { useApp } from "./context";
import { Done, Pending } from "./ui";

/** Freighter as an extension (its module talks to it), when no signer is injected. */
async function extensionSigner(): Promise<AuthEntrySigner | undefined> {
  try {
    const freighter = await import("@stellar/freighter-api");
    const connected = await freighter.isConnected();
    if (connected.error || !connected.isConnected) return undefined;
    return { signAuthEntry: (xdr, opts) => freighter.signAuthEntry(xdr, opts) };
  } catch {
    return undefined;
  }
}

export function WalletSign(props: {
  authorization: PendingAuthorization;
  onDone: (result: AuthorizationResult) => void | Promise<void>;
  onCancel: () => void;
  /** Repeats the action for a new entry (after an expired one). */
  restart?: (() => void) | undefined;
}) {
  const { authorization: a, onDone, onCancel, restart } = props;
  const { api } = useApp();
  const [signer, setSigner] = useState<AuthEntrySigner | undefined>(() => injectedSigner());
  const [pasted, setPasted] = useState("");
  const [sealed, setSealed] = useState("");
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<{ words: string; restart: boolean } | undefined>();
  const [copied, setCopied] = useState(false);
  // The minutes left when the step opened (the expiry ledger stays shown).
  const [shownAt] = useState(() => Math.floor(Date.now() / 1000));
  const share = a.action === "grant";

  useEffect(() => {
    if (signer) return;
    let live = true;
    void extensionSigner().then((s) => live && s && setSigner(s));
    return () => {
      live = false;
    };
  }, [signer]);

  const submit = async (signed: () => Promise<ReturnType<typeof classifySigned>>) => {
    setError(undefined);
    let body: ReturnType<typeof classifySigned>;
    try {
      setBusy("Waiting for your wallet…");
      body = await signed();
    } catch (e) {
      setBusy(undefined);
      setError({ words: e instanceof Error ? e.message : String(e), restart: false });
      return;
    }
    try {
      setBusy("Submitting your signature to the ledger… this takes a few seconds.");
      const result = await api.submitAuthorization(a.id, share && sealed.trim() ? { ...body, wrapped_key: sealed.trim() } : body);
      setBusy(undefined);
      await onDone(result);
    } catch (e) {
      setBusy(undefined);
      setError({ words: submitErrorWords(e, a), restart: restartable(e) });
    }
  };

  const manual = (e: FormEvent) => {
    e.preventDefault();
    void submit(async () => classifySigned(pasted));
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(a.entry);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };

  const minutes = minutesLeft(a, shownAt);
  return (
    <section aria-labelledby={`sign-${a.id}`} className="card wallet-sign">
      <h3 id={`sign-${a.id}`}>Sign with your wallet</h3>
      <p>
        Your account is a wallet: MediMint never holds its key, so you sign this action yourself. Check what you sign
        before you approve it in your wallet.
      </p>
      <dl className="facts">
        <dt>What you sign</dt>
        <dd>{actionWords(a)}</dd>
        <dt>Contract call</dt>
        <dd>
          <code>{a.action}</code> on study #{a.token_id}
        </dd>
        <dt>Signed by</dt>
        <dd>
          <code className="address">{a.address}</code>
        </dd>
        <dt>Network</dt>
        <dd>{a.network_passphrase}</dd>
        <dt>Valid for</dt>
        <dd>
          about {minutes} {minutes === 1 ? "minute" : "minutes"} (until ledger {a.signature_expiration_ledger})
        </dd>
      </dl>
      {error && (
        <div className="note error" role="alert">
          <p>{error.words}</p>
          {error.restart && restart && (
            <button type="button" onClick={restart}>
              Start again
            </button>
          )}
        </div>
      )}
      {busy && <Pending>{busy}</Pending>}
      {signer ? (
        <p>
          <button
            type="button"
            disabled={busy !== undefined}
            onClick={() => void submit(() => signWithWallet(signer, a))}
          >
            Sign with Freighter
          </button>
        </p>
      ) : (
        <p>No Freighter wallet was found in this browser: sign the entry below with your wallet or tool.</p>
      )}
      {share && (
        <p>
          A share also needs the study key sealed to the grantee, which only a client holding your secret key can make
          (the MediMint SDK or CLI); a browser wallet cannot. Paste it below with the signature.
        </p>
      )}
      <details open={!signer}>
        <summary>Sign with another wallet or tool</summary>
        <form onSubmit={manual}>
          <label htmlFor={`entry-${a.id}`}>Authorization entry to sign (base64 XDR)</label>
          <textarea id={`entry-${a.id}`} readOnly rows={4} value={a.entry} className="secret" />
          <button type="button" className="secondary" onClick={() => void copy()}>
            Copy the entry
          </button>
          {copied && <Done>Copied.</Done>}
          <label htmlFor={`preimage-${a.id}`}>Or its preimage (what Freighter's signAuthEntry signs)</label>
          <textarea id={`preimage-${a.id}`} readOnly rows={3} value={a.preimage} className="secret" />
          <label htmlFor={`signed-${a.id}`}>Signed entry, or the signature (base64 or hex)</label>
          <textarea
            id={`signed-${a.id}`}
            rows={4}
            required
            value={pasted}
            onChange={(e) => setPasted(e.target.value)}
            autoComplete="off"
          />
          {share && (
            <>
              <label htmlFor={`sealed-${a.id}`}>Study key sealed to the grantee (base64)</label>
              <input id={`sealed-${a.id}`} value={sealed} onChange={(e) => setSealed(e.target.value)} autoComplete="off" />
            </>
          )}
          <button type="submit" disabled={busy !== undefined || pasted.trim().length === 0}>
            Submit the signature
          </button>{" "}
          <button type="button" className="secondary" disabled={busy !== undefined} onClick={onCancel}>
            Cancel
          </button>
        </form>
      </details>
    </section>
  );
}

/**
 * For a screen whose actions may answer a wallet's 202: `ask` shows the signing panel (the
 * screen renders `panel`); after the submission `onDone` runs (reload what changed) and
 * `done` holds the result's words.
 */
export function useWalletSigning(onDone: (result: AuthorizationResult) => void | Promise<void>): {
  ask: (authorization: PendingAuthorization, restart?: () => void) => void;
  panel: ReactNode;
  signing: boolean;
} {
  const [pending, setPending] = useState<{ authorization: PendingAuthorization; restart?: (() => void) | undefined }>();
  const [done, setDone] = useState<string | undefined>();
  const ask = useCallback((authorization: PendingAuthorization, restart?: () => void) => {
    setDone(undefined);
    setPending({ authorization, restart });
  }, []);
  const panel = pending ? (
    <WalletSign
      key={pending.authorization.id}
      authorization={pending.authorization}
      onCancel={() => setPending(undefined)}
      restart={
        pending.restart
          ? () => {
              const again = pending.restart;
              setPending(undefined);
              again?.();
            }
          : undefined
      }
      onDone={async (result) => {
        setPending(undefined);
        setDone(`Signed and recorded on the ledger (ledger ${result.ledger}).`);
        await onDone(result);
      }}
    />
  ) : done ? (
    <Done>{done}</Done>
  ) : null;
  return { ask, panel, signing: pending !== undefined };
}
