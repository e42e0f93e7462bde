import { describe, expect, it } from "vitest";
import { Api, filePath, listQuery, type Fetch } from "../../src/api/client";
import { ApiError } from "../../src/api/problem";

interface Call {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}

const tokens = (n: number) => ({ token: `access-${n}`, refresh_token: `refresh-${n}`, expires_in: 900, token_type: "Bearer" });
const problem = (status: number, kind: string) =>
  new Response(JSON.stringify({ type: `urn:medimint:problem:${kind}`, title: kind, status, detail: `${kind} detail` }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { "content-type": "application/json" } });

/** A scripted server: each handler answers one request in order. */
function server(...answers: ((c: Call) => Response)[]): { fetch: Fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: Fetch = async (url, init) => {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const call: Call = {
      method: init?.method ?? "GET",
      url,
      auth: headers["authorization"],
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const next = answers.shift();
    if (!next) throw new Error(`unexpected request ${call.method} ${url}`);
    return next(call);
  };
  return { fetch, calls };
}

async function signedIn(...answers: ((c: Call) => Response)[]) {
  const s = server(() => json(tokens(1)), ...answers);
  const api = new Api("http://api", s.fetch);
  await api.verifyCode("jane@example.org", "123456");
  return { api, calls: s.calls };
}

describe("the API client", () => {
  it("revokes with or without re-keying, and erases with the token id as confirmation", async () => {
    const { api, calls } = await signedIn(
      () => json({ token_id: 7, grantee: "GD" }),
      () => json({ token_id: 7, grantee: "GD", rekey: { token_id: 7, files: 3 } }),
      () => json({ token_id: 7, files: 3 }),
      () => json({ token_id: 7, status: "erased" }),
      () => problem(410, "study-erased"),
    );
    await api.revoke(7, "dr@clinic.example");
    const r = await api.revoke(7, "dr@clinic.example", true);
    expect(r.kind === "done" ? r.value.rekey?.files : undefined).toBe(3);
    await api.rekey(7);
    await api.erase(7, 7);
    expect(calls[1]).toMatchObject({ method: "DELETE", url: "http://api/v1/studies/7/shares/dr%40clinic.example" });
    expect(calls[2]).toMatchObject({ method: "DELETE", url: "http://api/v1/studies/7/shares/dr%40clinic.example?rekey=true" });
    expect(calls[3]).toMatchObject({ method: "POST", url: "http://api/v1/studies/7/rekey" });
    expect(calls[4]).toMatchObject({ method: "POST", url: "http://api/v1/studies/7/erase", body: { confirm: 7 } });
    await expect(api.files(7)).rejects.toMatchObject({ status: 410 });
  });

  it("sends the email code and keeps the tokens in memory", async () => {
    const { api, calls } = await signedIn(() => json({ address: "GA", roles: ["patient"] }));
    expect(calls[0]).toMatchObject({ method: "POST", url: "http://api/auth/email/verify", body: { email: "jane@example.org", code: "123456" } });
    expect(api.signedIn).toBe(true);
    await api.me();
    expect(calls[1]?.auth).toBe("Bearer access-1");
  });

  it("adds the authenticator or recovery code", async () => {
    const s = server(() => json(tokens(1)), () => json(tokens(2)));
    const api = new Api("", s.fetch);
    await api.verifyCode("a@b.c", "111111", { totp: "222222" });
    await api.verifyCode("a@b.c", "111111", { recovery: "abcde-fghij" });
    expect(s.calls[0]?.body).toEqual({ email: "a@b.c", code: "111111", totp: "222222" });
    expect(s.calls[1]?.body).toEqual({ email: "a@b.c", code: "111111", recovery_code: "abcde-fghij" });
  });

  it("refreshes an expired access token once and repeats the request", async () => {
    const { api, calls } = await signedIn(
      () => problem(401, "unauthenticated"),
      () => json(tokens(2)),
      () => json({ items: [] }),
    );
    await expect(api.studies("owned")).resolves.toEqual({ items: [] });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "POST http://api/auth/email/verify",
      "GET http://api/v1/studies?role=owned&limit=20",
      "POST http://api/auth/refresh",
      "GET http://api/v1/studies?role=owned&limit=20",
    ]);
    // The refresh token travels in the httpOnly cookie only: no body, nothing held.
    expect(calls[2]?.body).toBeUndefined();
    expect(calls[3]?.auth).toBe("Bearer access-2");
  });

  it("shares one refresh between concurrent requests", async () => {
    const { api, calls } = await signedIn(
      () => problem(401, "unauthenticated"),
      () => problem(401, "unauthenticated"),
      () => json(tokens(2)),
      () => json({ a: 1 }),
      () => json({ a: 2 }),
    );
    await Promise.all([api.json("GET", "/x"), api.json("GET", "/y")]);
    expect(calls.filter((c) => c.url.endsWith("/auth/refresh"))).toHaveLength(1);
  });

  it("reports a session the API ended, once, and forgets the tokens", async () => {
    const { api } = await signedIn(() => problem(401, "session-ended"));
    const ended: ApiError[] = [];
    api.listen({ sessionEnded: (e) => ended.push(e) });
    await expect(api.me()).rejects.toMatchObject({ kind: "session-ended" });
    expect(ended.map((e) => e.kind)).toEqual(["session-ended"]);
    expect(api.signedIn).toBe(false);
  });

  it("ends the session when the refresh is refused too", async () => {
    const { api } = await signedIn(() => problem(401, "unauthenticated"), () => problem(401, "session-ended"));
    const ended: string[] = [];
    api.listen({ sessionEnded: (e) => ended.push(e.kind) });
    await expect(api.me()).rejects.toBeInstanceOf(ApiError);
    expect(ended).toEqual(["unauthenticated"]);
  });

  it("turns a refusal into an ApiError with the problem's words", async () => {
    const { api } = await signedIn(() => problem(404, "not-found"));
    const err = await api.study(7).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(404);
    expect((err as ApiError).detail).toBe("not-found detail");
  });

  it("says in words when the network fails", async () => {
    const api = new Api("", async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api.sendCode("a@b.c")).rejects.toMatchObject({ kind: "network" });
  });

  it("signs out and forgets the tokens even if the API does not answer", async () => {
    const { api, calls } = await signedIn(() => {
      throw new TypeError("offline");
    });
    await expect(api.logout(true)).rejects.toMatchObject({ kind: "network" });
    expect(calls[1]?.url).toBe("http://api/auth/logout/everywhere");
    expect(api.signedIn).toBe(false);
  });

  it("builds paths without letting a file name or grantee escape its segment", () => {
    expect(filePath("S01/IM 1.dcm")).toBe("S01/IM%201.dcm");
    expect(filePath("/a//b?c#d")).toBe("a/b%3Fc%23d");
    expect(listQuery("pending", "abc=", 10)).toBe("role=pending&cursor=abc%3D&limit=10");
    expect(listQuery(undefined, undefined, 20)).toBe("limit=20");
  });

  it("encodes the grantee of a revoke", async () => {
    const { api, calls } = await signedIn(() => json({ token_id: 1, grantee: "G" }));
    await api.revoke(1, "dr@clinic.example");
    expect(calls[1]).toMatchObject({ method: "DELETE", url: "http://api/v1/studies/1/shares/dr%40clinic.example" });
  });
});
