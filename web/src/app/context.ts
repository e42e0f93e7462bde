import { createContext, useContext } from "react";
import type { Api, Me } from "../api/client";

export interface AppCtx {
  api: Api;
  me: Me;
  /** Reloads `me` (roles, MFA) after a change. */
  reloadMe: () => Promise<void>;
}

export const Ctx = createContext<AppCtx | null>(null);

export function useApp(): AppCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error("useApp outside the signed-in app");
  return c;
}

/**
 * The API alone, for the few screens that also run outside the signed-in app (the viewer
 * on a share link's page, under the link's read-only session).
 */
export const ApiCtx = createContext<Api | null>(null);

/** The API of the nearest {@link ApiCtx}, else of the signed-in app. */
export function useApi(): Api {
  const only = useContext(ApiCtx);
  const app = useContext(Ctx);
  const api = only ?? app?.api;
  if (!api) throw new Error("useApi outside the app and any ApiCtx");
  return api;
}
