// The shell: restores a session from the refresh cookie, shows sign-in or the signed-in
// app, routes by the URL's hash, and logs off after inactivity with a warning first.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, type Me } from "../api/client";
import type { ApiError } from "../api/problem";
import { IdleTimer, type IdleState } from "../lib/idle";
import { href, parseRoute, type Route } from "../lib/route";
import { Ctx, useApp } from "./context";
import { SignIn } from "../screens/signin/SignIn";
import { Studies } from "../screens/studies/Studies";
import { Study } from "../screens/study/Study";
import { Account } from "../screens/account/Account";
import { Issuers } from "../screens/issuers/Issuers";
import { Releases } from "../screens/releases/Releases";
import { Viewer } from "../screens/viewer/Viewer";
import { Explorer } from "../screens/explorer/Explorer";
import { PageTitle } from "./ui";
import { isShareLink, OpenLink } from "../screens/links/OpenLink";
import { isRequestLink, RequestUpload } from "../screens/requests/RequestUpload";
import { Requests } from "../screens/requests/Requests";
import { Emergency } from "../screens/emergency/Emergency";

/**
 * A share link or a records-request link this page was opened with (no sign-in), read once
 * and then taken out of the address bar, so its secret stays in no history entry.
 */
function takeOutsideLink(): { kind: "share" | "request"; link: string } | undefined {
  const hash = window.location.hash;
  const kind = isShareLink(hash) ? "share" : isRequestLink(hash) ? "request" : undefined;
  if (!kind) return undefined;
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  return { kind, link: hash.replace(/^#/, "") };
}

/** The link is read once per page load (Strict Mode runs state initializers twice). */
let outsideLink: ReturnType<typeof takeOutsideLink> | null = null;
function outsideLinkOnce(): ReturnType<typeof takeOutsideLink> {
  if (outsideLink === null) outsideLink = takeOutsideLink();
  return outsideLink;
}

/** How long before the idle logoff the warning shows. */
const WARN_MS = 60_000;

type Phase =
  | { kind: "booting" }
  | { kind: "signed-out"; message?: string }
  | { kind: "signed-in"; me: Me };

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function App() {
  const api = useMemo(() => new Api(), []);
  const [outside] = useState(outsideLinkOnce);
  const [phase, setPhase] = useState<Phase>({ kind: "booting" });
  const route = useRoute();

  const signedOut = useCallback((message?: string) => {
    setPhase(message === undefined ? { kind: "signed-out" } : { kind: "signed-out", message });
  }, []);

  useEffect(() => {
    if (outside) return;
    api.listen({
      sessionEnded: (err: ApiError) => signedOut(`Your session ended: ${err.detail} Sign in again to continue.`),
    });
    let live = true;
    // A refresh cookie from an earlier sign-in in this browser restores the session.
    void api.refresh().then(async (ok) => {
      if (!live) return;
      if (!ok) return signedOut();
      try {
        const me = await api.me();
        if (live) setPhase({ kind: "signed-in", me });
      } catch {
        if (live) signedOut();
      }
    });
    return () => {
      live = false;
    };
  }, [api, signedOut, outside]);

  const onSignedIn = useCallback(async () => {
    const me = await api.me();
    setPhase({ kind: "signed-in", me });
  }, [api]);

  if (outside?.kind === "share") return <OpenLink api={api} link={outside.link} />;
  if (outside?.kind === "request") return <RequestUpload api={api} link={outside.link} />;
  if (phase.kind === "booting") {
    return (
      <main id="main" className="boot">
        <p role="status">Loading MediMint…</p>
      </main>
    );
  }
  if (phase.kind === "signed-out" && route.name === "explorer") {
    // The public explorer needs no sign-in.
    return (
      <>
        <header className="top">
          <span className="brand">MediMint</span>
          <nav aria-label="Main">
            <ul>
              <li>
                <a href="#/">Sign in</a>
              </li>
            </ul>
          </nav>
        </header>
        <main id="main" tabIndex={-1}>
          <Explorer api={api} token={route.token} />
        </main>
      </>
    );
  }
  if (phase.kind === "signed-out") {
    return (
      <>
        <SignIn api={api} message={phase.message} onSignedIn={onSignedIn} />
        <footer className="public">
          <a href="#/explorer">Public explorer</a>: what the chain records, without signing in.
        </footer>
      </>
    );
  }
  return (
    <SignedIn
      api={api}
      me={phase.me}
      route={route}
      setMe={(me) => setPhase({ kind: "signed-in", me })}
      signedOut={signedOut}
    />
  );
}

function SignedIn(props: {
  api: Api;
  me: Me;
  route: Route;
  setMe: (me: Me) => void;
  signedOut: (message?: string) => void;
}) {
  const { api, me, route, setMe, signedOut } = props;
  const [idle, setIdle] = useState<{ state: IdleState; left: number }>({ state: "active", left: 0 });
  const timer = useRef<IdleTimer | null>(null);

  const signOut = useCallback(
    async (everywhere: boolean, message?: string) => {
      await api.logout(everywhere).catch(() => undefined);
      signedOut(message ?? (everywhere ? "You signed out on every device." : "You signed out."));
    },
    [api, signedOut],
  );

  useEffect(() => {
    const timeoutMs = Math.max(me.idle_timeout * 1000, WARN_MS * 2);
    const t = new IdleTimer(timeoutMs, WARN_MS, Date.now(), (state, left) => {
      setIdle({ state, left });
      if (state === "expired") {
        void signOut(false, "You were signed out after a period of inactivity, to protect your records.");
      }
    });
    timer.current = t;
    const poke = () => t.activity(Date.now());
    const events = ["keydown", "pointerdown", "wheel"] as const;
    for (const e of events) window.addEventListener(e, poke, { passive: true });
    api.listen({ activity: poke });
    const tick = window.setInterval(() => t.tick(Date.now()), 1000);
    return () => {
      for (const e of events) window.removeEventListener(e, poke);
      window.clearInterval(tick);
      api.listen({ activity: undefined });
    };
  }, [api, me.idle_timeout, signOut]);

  const ctx = useMemo(
    () => ({
      api,
      me,
      reloadMe: async () => setMe(await api.me()),
    }),
    [api, me, setMe],
  );

  const isAdmin = me.roles.includes("admin");
  const isIssuer = me.roles.includes("issuer");
  const current = route.name;
  const link = (to: Route, label: string, active: boolean) => (
    <li>
      <a href={href(to)} aria-current={active ? "page" : undefined}>
        {label}
      </a>
    </li>
  );

  return (
    <Ctx.Provider value={ctx}>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header className="top">
        <span className="brand">MediMint</span>
        <nav aria-label="Main">
          <ul>
            {link({ name: "studies", role: "owned" }, "My studies", current === "studies" || current === "study" || current === "viewer")}
            {isIssuer && link({ name: "releases" }, "Releases", current === "releases" || current === "release" || current === "upload")}
            {isIssuer && link({ name: "requests" }, "Records requests", current === "requests")}
            {isAdmin && link({ name: "issuers" }, "Issuers", current === "issuers")}
            {/* Every account is a patient (its own studies' review); issuers break the glass; the admin reviews all. */}
            {link({ name: "emergency" }, "Emergency access", current === "emergency")}
            {link({ name: "explorer", token: undefined }, "Explorer", current === "explorer")}
            {link({ name: "account" }, "Account", current === "account")}
          </ul>
        </nav>
        <span className="who">{me.email ?? me.address}</span>
        <button type="button" className="secondary" onClick={() => void signOut(false)}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Screen route={route} signOut={signOut} />
      </main>
      {idle.state === "warning" && (
        <div className="overlay">
          <div role="alertdialog" aria-modal="true" aria-labelledby="idle-title" aria-describedby="idle-text" className="dialog">
            <h2 id="idle-title">Still there?</h2>
            <p id="idle-text">
              You will be signed out in {Math.ceil(idle.left / 1000)} seconds because nothing happened for a while.
            </p>
            <button
              type="button"
              autoFocus
              onClick={() => {
                timer.current?.activity(Date.now());
                void api.refresh();
              }}
            >
              Stay signed in
            </button>{" "}
            <button type="button" className="secondary" onClick={() => void signOut(false)}>
              Sign out now
            </button>
          </div>
        </div>
      )}
    </Ctx.Provider>
  );
}

function Screen({ route, signOut }: { route: Route; signOut: (everywhere: boolean) => Promise<void> }) {
  const { api } = useApp();
  switch (route.name) {
    case "studies":
      return <Studies key={route.role} role={route.role} />;
    case "study":
      return <Study key={route.token} token={route.token} />;
    case "viewer":
      return <Viewer key={route.token} token={route.token} />;
    case "explorer":
      return <Explorer api={api} token={route.token} />;
    case "account":
      return <Account signOut={signOut} />;
    case "issuers":
      return <Issuers />;
    case "releases":
    case "release":
    case "upload":
      return <Releases route={route} />;
    case "requests":
      return <Requests />;
    case "emergency":
      return <Emergency />;
    case "not-found":
      return (
        <>
          <PageTitle>Page not found</PageTitle>
          <p>
            There is no such page. <a href="#/">Go to your studies</a>.
          </p>
        </>
      );
  }
}
