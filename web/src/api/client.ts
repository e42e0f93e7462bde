// The typed client of the MediMint HTTP API (docs/api.md; types generated from
// docs/openapi.json into schema.d.ts). Tokens live in this object's memory only.

import type { components } from "./schema";
import { ApiError, networkError, problemFrom } from "./problem";

export type Schemas = components["schemas"];
export type Me = Schemas["Me"];
export type StudyItem = Schemas["StudyItem"];
export type StudyPage = Schemas["StudyPage"];
export type StudyView = Schemas["StudyView"];
export type StudyFile = Schemas["StudyFile"];
export type AccessReport = Schemas["AccessReport"];
export type SharedWith = Schemas["SharedWith"];
export type TrailEntry = Schemas["TrailEntry"];
export type Verification = Schemas["Verification"];
export type IssuerItem = Schemas["IssuerItem"];
export type AddIssuer = Schemas["AddIssuer"];
export type TokenResponse = Schemas["TokenResponse"];
export type TotpEnrollment = Schemas["TotpEnrollment"];
export type Relation = Schemas["Relation"];
export type NewRelease = Schemas["NewRelease"];
export type ReleaseUploads = Schemas["ReleaseUploads"];
export type ReleaseState = Schemas["ReleaseState"];
export type ReleasePage = Schemas["ReleasePage"];
export type Upload = Schemas["Upload"];
export type Totals = Schemas["Totals"];
export type Tally = Schemas["Tally"];
export type Day = Schemas["Day"];
export type PublicIssuer = Schemas["PublicIssuer"];
export type Timeline = Schemas["Timeline"];
export type ShareLinkView = Schemas["ShareLinkView"];
export type CreatedLink = Schemas["CreatedLink"];
export type LinkSession = Schemas["LinkSession"];
export type NewLink = Schemas["NewLink"];
export type RecordsRequestView = Schemas["RecordsRequestView"];
export type CreatedRequest = Schemas["CreatedRequest"];
export type NewRequest = Schemas["NewRequest"];
export type OpenedRequest = Schemas["OpenedRequest"];
export type RequestState = Schemas["RequestState"];
export type RequestUploads = Schemas["RequestUploads"];
export type EmergencyRecord = Schemas["EmergencyRecord"];
export type EmergencyPage = Schemas["EmergencyPage"];
export type EmergencyRequest = Schemas["EmergencyRequest"];
export type EmergencyEnded = Schemas["EmergencyEnded"];
export type PendingAuthorization = Schemas["PendingAuthorization"];
export type SubmitAuthorization = Schemas["SubmitAuthorization"];
export type AuthorizationResult = Schemas["AuthorizationResult"];

/**
 * What an action that needs the user's signature gave: done (an email account, whose key
 * the platform holds), or, for a wallet (SEP-10) account, the API's 202 with the Soroban
 * authorization entry the wallet must sign (then `submitAuthorization`; docs/api.md).
 */
export type Signed<T> = { kind: "done"; value: T } | { kind: "sign"; authorization: PendingAuthorization };

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** Why a session ended, for the sign-in screen. */
export type EndReason = "signed-out" | "expired" | "idle";

interface Tokens {
  /** The access token; the refresh token stays in the API's httpOnly cookie. */
  access: string;
}

/** Encodes a study file's path for the URL, segment by segment. */
export function filePath(path: string): string {
  return path
    .split("/")
    .filter((s) => s.length > 0)
    .map(encodeURIComponent)
    .join("/");
}

/** The query string of a study list request. */
export function listQuery(role: Relation | undefined, cursor: string | undefined, limit: number): string {
  const q = new URLSearchParams();
  if (role) q.set("role", role);
  if (cursor) q.set("cursor", cursor);
  q.set("limit", String(limit));
  return q.toString();
}

export class Api {
  private tokens: Tokens | undefined;
  private refreshing: Promise<boolean> | undefined;
  /** Called once when the API says the session is over (signed out elsewhere, idle, too old). */
  private onSessionEnded: ((err: ApiError) => void) | undefined;
  /** Called on every answered authenticated request (the idle timer listens). */
  private onActivity: (() => void) | undefined;

  constructor(
    private readonly base: string = "",
    private readonly fetchImpl: Fetch = (i, init) => fetch(i, init),
  ) {}

  /** Sets who hears of a session the API ended, and of answered requests. */
  listen(on: { sessionEnded?: (err: ApiError) => void; activity?: () => void }): void {
    if ("sessionEnded" in on) this.onSessionEnded = on.sessionEnded;
    if ("activity" in on) this.onActivity = on.activity;
  }

  get signedIn(): boolean {
    return this.tokens !== undefined;
  }

  /** Forgets the tokens (nothing else holds them). */
  forget(): void {
    this.tokens = undefined;
  }

  private adopt(t: TokenResponse): void {
    // The body's refresh token is not kept: the API set it as an httpOnly, Secure,
    // SameSite=Strict cookie on /auth, which script cannot read.
    this.tokens = { access: t.token };
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    auth: boolean,
    extra?: Record<string, string>,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...extra };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (auth && this.tokens) headers["authorization"] = `Bearer ${this.tokens.access}`;
    try {
      return await this.fetchImpl(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (e) {
      throw networkError(e);
    }
  }

  /**
   * One request. With `auth`, an expired access token is refreshed once and the request
   * repeated; a session the API ended is forgotten and reported through `onSessionEnded`.
   */
  async raw(
    method: string,
    path: string,
    body?: unknown,
    auth = true,
    headers?: Record<string, string>,
  ): Promise<Response> {
    let res = await this.send(method, path, body, auth, headers);
    if (auth && res.status === 401) {
      let err = problemFrom(401, await res.text(), res.headers);
      if (err.kind === "unauthenticated" && (await this.refresh())) {
        res = await this.send(method, path, body, auth, headers);
        if (res.status === 401) err = problemFrom(401, await res.text(), res.headers);
      }
      if (res.status === 401) {
        this.ended(err);
        throw err;
      }
    }
    if (!res.ok) throw problemFrom(res.status, await res.text(), res.headers);
    if (auth) this.onActivity?.();
    return res;
  }

  private ended(err: ApiError): void {
    const had = this.tokens !== undefined;
    this.tokens = undefined;
    if (had) this.onSessionEnded?.(err);
  }

  async json<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const res = await this.raw(method, path, body, auth);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** A request whose answer may be a wallet's 202 (an authorization entry to sign). */
  async signed<T>(method: string, path: string, body?: unknown): Promise<Signed<T>> {
    const res = await this.raw(method, path, body);
    const parsed: unknown = res.status === 204 ? undefined : await res.json();
    if (res.status === 202 && parsed && typeof parsed === "object" && "authorization" in parsed) {
      return { kind: "sign", authorization: (parsed as { authorization: PendingAuthorization }).authorization };
    }
    return { kind: "done", value: parsed as T };
  }

  /**
   * New tokens from the refresh token in the API's httpOnly cookie (sent by the browser
   * with `credentials: "same-origin"`). Concurrent callers share one refresh. Resolves
   * false when there is no session to renew.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          const res = await this.send("POST", "/auth/refresh", undefined, false);
          if (!res.ok) {
            await res.text();
            return false;
          }
          this.adopt((await res.json()) as TokenResponse);
          return true;
        } catch {
          return false;
        } finally {
          this.refreshing = undefined;
        }
      })();
    }
    return this.refreshing;
  }

  // --- sign-in ---------------------------------------------------------------------------

  sendCode(email: string): Promise<Schemas["CodeSent"]> {
    return this.json("POST", "/auth/email", { email }, false);
  }

  async verifyCode(email: string, code: string, second?: { totp?: string; recovery?: string }): Promise<void> {
    const body: Record<string, string> = { email, code };
    if (second?.totp) body["totp"] = second.totp;
    if (second?.recovery) body["recovery_code"] = second.recovery;
    this.adopt(await this.json<TokenResponse>("POST", "/auth/email/verify", body, false));
  }

  challenge(account: string): Promise<Schemas["ChallengeResponse"]> {
    return this.json("GET", `/auth?account=${encodeURIComponent(account)}`, undefined, false);
  }

  async signInWithChallenge(signedXdr: string): Promise<void> {
    this.adopt(await this.json<TokenResponse>("POST", "/auth", { transaction: signedXdr }, false));
  }

  async logout(everywhere = false): Promise<void> {
    try {
      if (this.tokens) {
        const res = await this.send("POST", everywhere ? "/auth/logout/everywhere" : "/auth/logout", undefined, true);
        await res.text();
      }
    } finally {
      this.tokens = undefined;
    }
  }

  me(): Promise<Me> {
    return this.json("GET", "/v1/me");
  }

  totpEnroll(): Promise<TotpEnrollment> {
    return this.json("POST", "/v1/me/totp");
  }

  totpConfirm(code: string): Promise<Schemas["RecoveryCodes"]> {
    return this.json("POST", "/v1/me/totp/confirm", { code });
  }

  // --- studies ---------------------------------------------------------------------------

  studies(role: Relation | undefined, cursor?: string, limit = 20): Promise<StudyPage> {
    return this.json("GET", `/v1/studies?${listQuery(role, cursor, limit)}`);
  }

  study(token: number): Promise<StudyView> {
    return this.json("GET", `/v1/studies/${token}`);
  }

  access(token: number): Promise<AccessReport> {
    return this.json("GET", `/v1/studies/${token}/access`);
  }

  consent(token: number, decision: "approve" | "reject", reason?: string): Promise<Signed<StudyView>> {
    return this.signed("POST", `/v1/studies/${token}/consent`, reason ? { decision, reason } : { decision });
  }

  share(
    token: number,
    to: string,
    role: "viewer" | "sharer",
    until: number | undefined,
  ): Promise<Signed<Schemas["GrantAnswer"]>> {
    return this.signed("POST", `/v1/studies/${token}/shares`, until === undefined ? { to, role } : { to, role, until });
  }

  /** Revokes a grant; with `rekey` the stronger revoke (docs/re-key.md): the owner's study gets a new key. */
  revoke(token: number, grantee: string, rekey = false): Promise<Signed<Schemas["GrantAnswer"]>> {
    const query = rekey ? "?rekey=true" : "";
    return this.signed("DELETE", `/v1/studies/${token}/shares/${encodeURIComponent(grantee)}${query}`);
  }

  /** Re-keys the owner's study, or continues an interrupted re-key. */
  rekey(token: number): Promise<Schemas["RekeyReport"]> {
    return this.json("POST", `/v1/studies/${token}/rekey`, {});
  }

  /** Erases the owner's study for good (docs/erasure.md); `confirm` repeats the token id. */
  erase(token: number, confirm: number): Promise<Schemas["ErasureReport"]> {
    return this.json("POST", `/v1/studies/${token}/erase`, { confirm });
  }

  /** Sends a wallet's signed entry (or bare signature) for a 202's authorization. */
  submitAuthorization(id: string, body: SubmitAuthorization): Promise<AuthorizationResult> {
    return this.json("POST", `/v1/authorizations/${encodeURIComponent(id)}/submit`, body);
  }

  // --- emergency access (docs/emergency-access.md) ----------------------------------------

  /** An active trusted issuer breaks the glass on `token`. */
  openEmergency(token: number, body: EmergencyRequest): Promise<EmergencyRecord> {
    return this.json("POST", `/v1/studies/${token}/emergency`, body);
  }

  /** The break-glass accesses the caller may review (the admin: all), newest first. */
  emergencies(cursor?: string, limit = 20): Promise<EmergencyPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set("cursor", cursor);
    return this.json("GET", `/v1/emergency?${q.toString()}`);
  }

  /** The patient or the admin ends an emergency access early. */
  endEmergency(token: number, issuer: string): Promise<EmergencyEnded> {
    return this.json("DELETE", `/v1/studies/${token}/emergency/${encodeURIComponent(issuer)}`);
  }

  history(token: number): Promise<TrailEntry[]> {
    return this.json("GET", `/v1/studies/${token}/history`);
  }

  files(token: number): Promise<StudyFile[]> {
    return this.json("GET", `/v1/studies/${token}/files`);
  }

  file(token: number, path: string): Promise<Response> {
    return this.raw("GET", `/v1/studies/${token}/files/${filePath(path)}`);
  }

  verify(token: number, files: { name: string; sha256: string }[]): Promise<Verification> {
    return this.json("POST", `/v1/studies/${token}/verify`, { files });
  }

  // --- releases (issuer) -------------------------------------------------------------------

  startRelease(body: NewRelease): Promise<ReleaseUploads> {
    return this.json("POST", "/v1/releases", body);
  }

  /** Fresh upload URLs from file `from` on (when some expired, or the next batch). */
  uploads(id: string, from = 0): Promise<ReleaseUploads> {
    return this.json("GET", `/v1/releases/${encodeURIComponent(id)}/uploads?from=${from}`);
  }

  completeRelease(id: string): Promise<ReleaseState> {
    return this.json("POST", `/v1/releases/${encodeURIComponent(id)}/complete`);
  }

  release(id: string): Promise<ReleaseState> {
    return this.json("GET", `/v1/releases/${encodeURIComponent(id)}`);
  }

  releases(cursor?: string, limit = 20): Promise<ReleasePage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set("cursor", cursor);
    return this.json("GET", `/v1/releases?${q.toString()}`);
  }

  // --- public explorer (no sign-in) -------------------------------------------------------

  explorerTotals(): Promise<Totals> {
    return this.json("GET", "/v1/explorer/totals", undefined, false);
  }

  explorerDays(from?: string, to?: string): Promise<Day[]> {
    const q = new URLSearchParams();
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    const qs = q.toString();
    return this.json("GET", `/v1/explorer/days${qs ? `?${qs}` : ""}`, undefined, false);
  }

  explorerIssuers(): Promise<PublicIssuer[]> {
    return this.json("GET", "/v1/explorer/issuers", undefined, false);
  }

  explorerToken(token: number): Promise<Timeline> {
    return this.json("GET", `/v1/explorer/tokens/${token}`, undefined, false);
  }

  // --- share links (docs/share-links.md) --------------------------------------------------

  shareLinks(token: number): Promise<ShareLinkView[]> {
    return this.json("GET", `/v1/studies/${token}/links`);
  }

  createLink(token: number, body: NewLink): Promise<CreatedLink> {
    return this.json("POST", `/v1/studies/${token}/links`, body);
  }

  revokeLink(token: number, id: string): Promise<ShareLinkView> {
    return this.json("DELETE", `/v1/studies/${token}/links/${encodeURIComponent(id)}`);
  }

  /** Opens a share link with its passcode (both in the body); the read-only session's token stays in memory. */
  async openLink(link: string, passcode: string): Promise<LinkSession> {
    const session = await this.json<LinkSession>("POST", "/v1/links/open", { link, passcode }, false);
    this.tokens = { access: session.token };
    return session;
  }

  // --- records requests (docs/records-requests.md) -----------------------------------------

  createRequest(body: NewRequest): Promise<CreatedRequest> {
    return this.json("POST", "/v1/requests", body);
  }

  requests(): Promise<RecordsRequestView[]> {
    return this.json("GET", "/v1/requests");
  }

  request(id: string): Promise<RequestState> {
    return this.json("GET", `/v1/requests/${encodeURIComponent(id)}`);
  }

  /** The institution opens a request with its link and access code (no account). */
  openRequest(link: string, code: string): Promise<OpenedRequest> {
    return this.json("POST", "/v1/requests/open", { link, code }, false);
  }

  private async withUploadToken<T>(path: string, uploadToken: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/json", authorization: `Bearer ${uploadToken}` },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (e) {
      throw networkError(e);
    }
    if (!res.ok) throw problemFrom(res.status, await res.text(), res.headers);
    return (await res.json()) as T;
  }

  requestFiles(id: string, uploadToken: string, files: { path: string; size: number }[]): Promise<RequestUploads> {
    return this.withUploadToken(`/v1/requests/${encodeURIComponent(id)}/files`, uploadToken, { files });
  }

  completeRequest(id: string, uploadToken: string): Promise<ReleaseState> {
    return this.withUploadToken(`/v1/requests/${encodeURIComponent(id)}/complete`, uploadToken, null);
  }

  // --- issuers (admin) --------------------------------------------------------------------

  issuers(): Promise<IssuerItem[]> {
    return this.json("GET", "/v1/issuers");
  }

  addIssuer(body: AddIssuer): Promise<Schemas["IssuerChanged"]> {
    return this.json("POST", "/v1/issuers", body);
  }

  issuerAction(address: string, action: "suspend" | "reinstate" | "remove"): Promise<Schemas["IssuerChanged"]> {
    const a = encodeURIComponent(address);
    return action === "remove"
      ? this.json("DELETE", `/v1/issuers/${a}`)
      : this.json("POST", `/v1/issuers/${a}/${action}`);
  }
}

export { ApiError };
