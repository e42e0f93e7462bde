import { describe, expect, it } from "vitest";
import { Api, type Fetch } from "../../src/api/client";
import { isShareLink } from "../../src/screens/links/OpenLink";
import { isRequestLink } from "../../src/screens/requests/RequestUpload";

describe("outside links", () => {
  it("tells a share link and a records-request link from app routes", () => {
    expect(isShareLink("#shlink:/eyJ1cmwiOiJ4In0")).toBe(true);
    expect(isShareLink("#/studies/7")).toBe(false);
    const id = `rr-${"a".repeat(64)}`;
    const secret = "b".repeat(64);
    expect(isRequestLink(`#/request/${id}/${secret}`)).toBe(true);
    expect(isRequestLink(`#/request/${id}/short`)).toBe(false);
    expect(isRequestLink("#/releases/new")).toBe(false);
  });

  it("opens a link with the passcode in the body, then reads with the session's token", async () => {
    const calls: { url: string; body: unknown; auth: string | undefined }[] = [];
    const fetchImpl: Fetch = (url, init) => {
      const headers = (init?.headers ?? {}) as Record<string, string>;
      calls.push({ url, body: init?.body ? JSON.parse(init.body as string) : undefined, auth: headers["authorization"] });
      const answer = url.endsWith("/v1/links/open")
        ? { token: "view-1", refresh_token: "r", expires_in: 900, token_type: "Bearer", token_id: 7, link_expires_at: 1 }
        : [];
      return Promise.resolve(new Response(JSON.stringify(answer), { status: 200, headers: { "content-type": "application/json" } }));
    };
    const api = new Api("", fetchImpl);
    const s = await api.openLink("shlink:/abc", "tulip-42");
    expect(s.token_id).toBe(7);
    await api.files(7);
    expect(calls[0]).toEqual({ url: "/v1/links/open", body: { link: "shlink:/abc", passcode: "tulip-42" }, auth: undefined });
    expect(calls[0]?.url).not.toContain("tulip");
    expect(calls[1]?.auth).toBe("Bearer view-1");
  });

  it("sends the upload token of a records request, not a session's", async () => {
    const seen: (string | undefined)[] = [];
    const fetchImpl: Fetch = (_url, init) => {
      seen.push(((init?.headers ?? {}) as Record<string, string>)["authorization"]);
      return Promise.resolve(new Response(JSON.stringify({ id: "rr-x", uploads: [] }), { status: 200 }));
    };
    const api = new Api("", fetchImpl);
    await api.requestFiles("rr-x", "u".repeat(64), [{ path: "IM1.dcm", size: 3 }]);
    expect(seen).toEqual([`Bearer ${"u".repeat(64)}`]);
  });
});
