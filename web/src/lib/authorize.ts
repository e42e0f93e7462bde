// A wallet (SEP-10) account signs its own actions: consent, share and revoke answer 202
// with a Soroban authorization entry (docs/api.md, "External wallets sign their own
// actions"). This module is what the screens share: words for what is signed, a Freighter
// found in the page (feature-detected), the signed text a user pastes, and what a refused
// submission means. The wallet's key never reaches the page or the API.

import type { PendingAuthorization, SubmitAuthorization } from "../api/client";
import { ApiError, describe } from "../api/problem";

/** The part of Freighter's API this needs (`window.freighterApi`, or the extension's module). */
export interface AuthEntrySigner {
  signAuthEntry(
    preimageXdr: string,
    opts: { networkPassphrase: string; address?: string },
  ): Promise<unknown>;
}

/** A Freighter-like signer the page offers as `window.freighterApi`, if any. */
export function injectedSigner(w: unknown = typeof window === "undefined" ? undefined : window): AuthEntrySigner | undefined {
  if (!w || typeof w !== "object") return undefined;
  const f = (w as { freighterApi?: unknown }).freighterApi;
  if (f && typeof f === "object" && typeof (f as { signAuthEntry?: unknown }).signAuthEntry === "function") {
    return f as AuthEntrySigner;
  }
  return undefined;
}

/** What the user signs, in words. */
export function actionWords(a: PendingAuthorization): string {
  const study = `study #${a.token_id}`;
  switch (a.action) {
    case "approve_release":
      return `Approve the release of ${study} to you (your consent)`;
    case "reject_release":
      return `Refuse the release of ${study}`;
    case "grant":
      return `Share ${study} with ${a.grantee ?? "the grantee"}`;
    case "revoke":
      return `Revoke ${a.grantee ?? "the grantee"}'s access to ${study}`;
    case "record_access":
      return `Record on the ledger that you opened ${study}`;
    default:
      return `${a.action.replace(/_/g, " ")} on ${study}`;
  }
}

/** Whole minutes until the signature expires (at least 0). */
export function minutesLeft(a: PendingAuthorization, nowSeconds: number): number {
  return Math.max(0, Math.floor((a.expires_at - nowSeconds) / 60));
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes of standard or URL-safe base64, or undefined if it is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  let t = text.replace(/\s+/g, "").replace(/-/g, "+").replace(/_/g, "/");
  if (t.length === 0) return undefined;
  while (t.length % 4 !== 0) t += "=";
  if (!B64.test(t)) return undefined;
  try {
    const bin = atob(t);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Length of an ed25519 signature. */
const SIGNATURE_BYTES = 64;
/** The smallest `SorobanAuthorizationEntry` with address credentials is well above this. */
const MIN_ENTRY_BYTES = 100;

/**
 * What the user pasted: the whole signed entry (base64 XDR, as stellar-sdk's
 * `authorizeEntry` gives it) or only the 64-byte signature (base64, or hex as some tools
 * print it), as the submit route takes them.
 *
 * @throws Error saying what to paste when it is neither.
 */
export function classifySigned(text: string): Pick<SubmitAuthorization, "signature" | "signed_entry"> {
  const t = text.trim();
  if (/^[0-9a-fA-F]{128}$/.test(t)) {
    const bytes = new Uint8Array(SIGNATURE_BYTES);
    for (let i = 0; i < SIGNATURE_BYTES; i++) bytes[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
    return { signature: toBase64(bytes) };
  }
  const bytes = fromBase64(t);
  if (bytes && bytes.length === SIGNATURE_BYTES) return { signature: toBase64(bytes) };
  if (bytes && bytes.length >= MIN_ENTRY_BYTES) return { signed_entry: t.replace(/\s+/g, "") };
  throw new Error(
    "Paste the signed entry (base64 XDR) or the signature (64 bytes, base64 or hex) your wallet gave you.",
  );
}

/**
 * Asks a Freighter-like signer to sign the entry's preimage and returns what to submit.
 * Freighter answers `{signedAuthEntry}` (the signature, base64) or `{error}`; older
 * versions answered the value alone.
 *
 * @throws Error in words when the wallet refused or answered something unusable.
 */
export async function signWithWallet(
  signer: AuthEntrySigner,
  a: PendingAuthorization,
): Promise<Pick<SubmitAuthorization, "signature" | "signed_entry">> {
  let answer: unknown;
  try {
    answer = await signer.signAuthEntry(a.preimage, { networkPassphrase: a.network_passphrase, address: a.address });
  } catch (e) {
    throw new Error(`The wallet did not sign: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let value: unknown = answer;
  if (answer && typeof answer === "object" && !(answer instanceof Uint8Array)) {
    const o = answer as { signedAuthEntry?: unknown; error?: unknown };
    if (o.error) {
      const m = typeof o.error === "object" && o.error && "message" in o.error ? String((o.error as { message: unknown }).message) : String(o.error);
      throw new Error(`The wallet did not sign: ${m}`);
    }
    value = o.signedAuthEntry;
  }
  if (value instanceof Uint8Array) value = toBase64(value);
  if (typeof value !== "string" || value.length === 0) {
    throw new Error("The wallet declined to sign, or gave nothing back: try again, or sign it yourself below.");
  }
  try {
    return classifySigned(value);
  } catch (e) {
    throw new Error("The wallet's answer is neither a signature nor a signed entry: sign it yourself below.", {
      cause: e,
    });
  }
}

/** What a refused submission means and what to do, in words. */
export function submitErrorWords(err: unknown, a: PendingAuthorization): string {
  if (!(err instanceof ApiError)) return describe(err);
  if (err.status === 410 || err.kind === "authorization-expired") {
    return `This authorization expired (it was valid until ledger ${a.signature_expiration_ledger}, about 10 minutes): start the action again to get a new one to sign.`;
  }
  if (err.kind === "authorization-used") {
    return "This authorization was already submitted and used: nothing more to sign. Reload the page to see the result.";
  }
  if (err.status === 403) {
    return `It was signed by another key than your account's (${a.address}): sign with the wallet of that account. ${err.detail}`;
  }
  if (err.status === 404) {
    return "This authorization is not yours, or no longer exists: start the action again.";
  }
  if (err.status === 409) return `The ledger refused it: ${err.detail}`;
  if (err.status === 400) {
    return `The signature was not accepted: ${describe(err)} Sign with the key of ${a.address} on the network "${a.network_passphrase}".`;
  }
  return describe(err);
}

/** Whether the action can be repeated for a new entry (an expired or unknown one). */
export function restartable(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 410 || err.status === 404);
}
