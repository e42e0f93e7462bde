import { useCallback, useEffect, useState } from "react";

export interface Loaded<T> {
  /** The value for the current key, undefined while it loads or when it failed. */
  value: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (after a change). Resolves when the new value is in. */
  reload: () => Promise<void>;
}

/**
 * Runs `load` whenever `key` changes (and on `reload`); an answer for an older key is
 * dropped, so a slow page never overwrites a newer one.
 */
export function useAsync<T>(key: string, load: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ key: string; n: number; value?: T; error?: unknown } | undefined>();
  const [n, setN] = useState(0);
  const [waiters] = useState(() => new Set<() => void>());

  useEffect(() => {
    let live = true;
    load().then(
      (value) => live && setState({ key, n, value }),
      (error: unknown) => live && setState({ key, n, error }),
    );
    return () => {
      live = false;
    };
    // `load` changes with `key`; the key says when to run again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, n]);

  useEffect(() => {
    if (state?.n === n) {
      for (const w of waiters) w();
      waiters.clear();
    }
  }, [state, n, waiters]);

  const reload = useCallback(
    () =>
      new Promise<void>((resolve) => {
        waiters.add(resolve);
        setN((x) => x + 1);
      }),
    [waiters],
  );

  const current = state && state.key === key ? state : undefined;
  return {
    value: current?.value,
    error: current?.error,
    loading: current === undefined || current.n !== n,
    reload,
  };
}
