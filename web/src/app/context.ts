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
