// Small shared pieces: error and status notes, a pending indicator, the page heading that
// takes focus on navigation.

import { useEffect, useRef, type ReactNode } from "react";
import { describe } from "../api/problem";

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p className="note error" role="alert">
      {describe(error)}
    </p>
  );
}

export function Pending({ children }: { children: ReactNode }) {
  return (
    <p className="note pending" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {children}
    </p>
  );
}

export function Done({ children }: { children: ReactNode }) {
  return (
    <p className="note done" role="status">
      {children}
    </p>
  );
}

/** The page's h1; it takes focus when the page opens so screen readers announce it. */
export function PageTitle({ children }: { children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

export function Address({ value }: { value: string }) {
  return (
    <code className="address" title={value}>
      {value}
    </code>
  );
}
