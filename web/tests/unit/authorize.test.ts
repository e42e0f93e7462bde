import { createHash, generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Api, type Fetch, type PendingAuthorization } from "../../src/api/client";
import { ApiError } from "../../src/api/problem";
import {
  actionWords,
  classifySigned,
  fromBase64,
  injectedSigner,
  minutesLeft,
  restartable,
  signWithWallet,
  submitErrorWords,
  toBase64,
  type AuthEntrySigner,
} from "../../src/lib/authorize";

const PREIMAGE = Buffer.from("preimage of a soroban authorization entry: network id, nonce, expiry, invocation").toString("base64");

const auth = (over: Partial<PendingAuthorization> = {}): PendingAuthorization => ({
  id: "5f0c".padEnd(32, "0"),
  action: "approve_release",
  token_id: 7,
  address: "GWALLET",
  grantee: null,
  entry: Buffer.alloc(180, 1).toString("base64"),
  preimage: PREIMAGE,
  preimage_hash: createHash("sha256").update(Buffer.from(PREIMAGE, "base64")).digest("hex"),
  network_passphrase: "Test SDF Network ; September 2015",
  nonce: -4108371523930468,
  signature_expiration_ledger: 123580,
  latest_ledger: 123460,
  expires_at: 1_767_226_200,
  ...over,
});

/** A Freighter stand-in that signs SHA-256 of the preimage with a key only this test holds. */
function fakeFreighter() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const asked: { xdr: string; opts: unknown }[] = [];
  const signer: AuthEntrySigner = {
    async signAuthEntry(xdr, opts) {
      asked.push({ xdr, opts });
      const hash = createHash("sha256").update(Buffer.from(xdr, "base64")).digest();
      return { signedAuthEntry: sign(null, hash, privateKey).toString("base64"), signerAddress: "GWALLET" };
    },
  };
  return { signer, asked, publicKey };
}

const problem = (status: number, kind: string, detail = `${kind} detail`) =>
  new ApiError({ kind, status, title: kind, detail });

describe("the wallet's authorization step", () => {
  it("finds an injected Freighter only when it can sign auth entries", () => {
    const { signer } = fakeFreighter();
    expect(injectedSigner({ freighterApi: signer })).toBe(signer);
    expect(injectedSigner({ freighterApi: { signTransaction: () => 1 } })).toBeUndefined();
    expect(injectedSigner({})).toBeUndefined();
    expect(injectedSigner(undefined)).toBeUndefined();
  });

  it("says what is signed", () => {
    expect(actionWords(auth())).toBe("Approve the release of study #7 to you (your consent)");
    expect(actionWords(auth({ action: "grant", grantee: "GDOC" }))).toBe("Share study #7 with GDOC");
    expect(actionWords(auth({ action: "revoke", grantee: "GDOC" }))).toBe("Revoke GDOC's access to study #7");
    expect(actionWords(auth({ action: "reject_release" }))).toMatch(/^Refuse the release of study #7/);
    expect(minutesLeft(auth(), 1_767_226_200 - 600)).toBe(10);
    expect(minutesLeft(auth(), 1_767_226_200 + 5)).toBe(0);
  });

  it("signs with the wallet: the preimage and network go in, a signature that verifies comes out", async () => {
    const { signer, asked, publicKey } = fakeFreighter();
    const a = auth();
    const body = await signWithWallet(signer, a);
    expect(asked).toEqual([{ xdr: a.preimage, opts: { networkPassphrase: a.network_passphrase, address: "GWALLET" } }]);
    expect(body.signed_entry).toBeUndefined();
    const sig = Buffer.from(body.signature ?? "", "base64");
    expect(sig).toHaveLength(64);
    expect(verify(null, Buffer.from(a.preimage_hash, "hex"), publicKey, sig)).toBe(true);
  });

  it("reports a wallet that refuses or answers nothing usable", async () => {
    const refusing: AuthEntrySigner = { signAuthEntry: async () => ({ signedAuthEntry: null, signerAddress: "", error: { message: "User declined access" } }) };
    await expect(signWithWallet(refusing, auth())).rejects.toThrow("The wallet did not sign: User declined access");
    const empty: AuthEntrySigner = { signAuthEntry: async () => ({ signedAuthEntry: null, signerAddress: "" }) };
    await expect(signWithWallet(empty, auth())).rejects.toThrow(/declined to sign/);
    const junk: AuthEntrySigner = { signAuthEntry: async () => ({ signedAuthEntry: "c2hvcnQ=" }) };
    await expect(signWithWallet(junk, auth())).rejects.toThrow(/neither a signature nor a signed entry/);
    const throwing: AuthEntrySigner = {
      signAuthEntry: async () => {
        throw new Error("locked");
      },
    };
    await expect(signWithWallet(throwing, auth())).rejects.toThrow("The wallet did not sign: locked");
    // An older Freighter answered the bytes alone.
    const bytes: AuthEntrySigner = { signAuthEntry: async () => new Uint8Array(64).fill(9) };
    expect(await signWithWallet(bytes, auth())).toEqual({ signature: toBase64(new Uint8Array(64).fill(9)) });
  });

  it("tells a pasted signature (base64 or hex) from a signed entry, and refuses anything else", () => {
    const sig = new Uint8Array(64).map((_, i) => i);
    const b64 = toBase64(sig);
    expect(classifySigned(` ${b64}\n`)).toEqual({ signature: b64 });
    expect(classifySigned(Buffer.from(sig).toString("hex"))).toEqual({ signature: b64 });
    expect(classifySigned(b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""))).toEqual({ signature: b64 });
    const entry = Buffer.alloc(200, 7).toString("base64");
    expect(classifySigned(`${entry.slice(0, 50)}\n${entry.slice(50)}`)).toEqual({ signed_entry: entry });
    for (const bad of ["", "hello world!", toBase64(new Uint8Array(32)), "zz".repeat(64)]) {
      expect(() => classifySigned(bad), bad).toThrow(/Paste the signed entry/);
    }
    expect(fromBase64("@@@")).toBeUndefined();
  });

  it("says what a refused submission means", () => {
    const a = auth();
    expect(submitErrorWords(problem(410, "authorization-expired"), a)).toMatch(/expired .*ledger 123580.*start the action again/);
    expect(submitErrorWords(problem(409, "authorization-used"), a)).toMatch(/already submitted/);
    expect(submitErrorWords(problem(409, "conflict", "not pending any more"), a)).toBe("The ledger refused it: not pending any more");
    expect(submitErrorWords(problem(403, "forbidden", "signed by GOTHER"), a)).toMatch(/another key than your account's \(GWALLET\).*signed by GOTHER/);
    expect(submitErrorWords(problem(404, "not-found"), a)).toMatch(/not yours/);
    expect(submitErrorWords(new ApiError({ kind: "invalid-request", status: 400, title: "Invalid", detail: "the signature does not verify", field: "signed_entry" }), a)).toBe(
      'The signature was not accepted: the signature does not verify (field: signed_entry) Sign with the key of GWALLET on the network "Test SDF Network ; September 2015".',
    );
    expect(submitErrorWords(new Error("offline"), a)).toBe("offline");
    expect(restartable(problem(410, "authorization-expired"))).toBe(true);
    expect(restartable(problem(409, "authorization-used"))).toBe(false);
  });
});

describe("the client and a wallet's 202", () => {
  it("returns the entry to sign on 202, the value on 200, and submits the signature", async () => {
    const calls: { method: string; url: string; body: unknown }[] = [];
    const a = auth();
    const answers = [
      () => new Response(JSON.stringify({ token: "t", refresh_token: "r", expires_in: 900, token_type: "Bearer" })),
      () => new Response(JSON.stringify({ authorization: a }), { status: 202 }),
      () => new Response(JSON.stringify({ token_id: 7, grantee: "GDOC" }), { status: 200 }),
      () => new Response(JSON.stringify({ action: "approve_release", token_id: 7, transaction_hash: "ab", ledger: 123462 })),
      () =>
        new Response(JSON.stringify({ type: "urn:medimint:problem:authorization-used", title: "Used", status: 409, detail: "already submitted" }), {
          status: 409,
        }),
    ];
    const fetchImpl: Fetch = async (url, init) => {
      calls.push({ method: init?.method ?? "GET", url, body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined });
      const next = answers.shift();
      if (!next) throw new Error(`unexpected ${url}`);
      return next();
    };
    const api = new Api("", fetchImpl);
    await api.verifyCode("a@b.c", "123456");
    expect(await api.consent(7, "approve")).toEqual({ kind: "sign", authorization: a });
    expect(await api.revoke(7, "GDOC")).toEqual({ kind: "done", value: { token_id: 7, grantee: "GDOC" } });
    const done = await api.submitAuthorization(a.id, { signature: "c2ln" });
    expect(done.ledger).toBe(123462);
    const err = await api.submitAuthorization(a.id, { signature: "c2ln" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, kind: "authorization-used" });
    expect(calls.map((c) => `${c.method} ${c.url}`).slice(1)).toEqual([
      "POST /v1/studies/7/consent",
      "DELETE /v1/studies/7/shares/GDOC",
      `POST /v1/authorizations/${a.id}/submit`,
      `POST /v1/authorizations/${a.id}/submit`,
    ]);
    expect(calls[3]?.body).toEqual({ signature: "c2ln" });
  });
});
