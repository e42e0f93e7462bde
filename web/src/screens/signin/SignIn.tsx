// Sign in: an email code, then the authenticator code (or a recovery code) when one is
// enrolled; or a Stellar wallet (Freighter) through SEP-10.

import { useState, type FormEvent } from "react";
import type { Api } from "../../api/client";
import { ApiError } from "../../api/problem";
import { ErrorNote, PageTitle, Pending } from "../../app/ui";

type Step = "email" | "code" | "second";

export function SignIn(props: { api: Api; message?: string | undefined; onSignedIn: () => Promise<void> }) {
  const { api, onSignedIn } = props;
  const [step, setStep] = useState<Step>("email");
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const [second, setSecond] = useState("");
  const [useRecovery, setUseRecovery] = useState(false);
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const [info, setInfo] = useState<string | undefined>(props.message);

  async function run(label: string, f: () => Promise<void>) {
    setBusy(label);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  }

  const sendCode = (e: FormEvent) => {
    e.preventDefault();
    void run("Sending a code…", async () => {
      const sent = await api.sendCode(email.trim());
      setInfo(`We sent a 6-digit code to ${email.trim()}. It is valid for ${Math.round(sent.expires_in / 60)} minutes.`);
      setCode("");
      setStep("code");
    });
  };

  const verify = (e: FormEvent) => {
    e.preventDefault();
    void run("Checking…", async () => {
      try {
        const extra =
          step === "second" ? (useRecovery ? { recovery: second.trim() } : { totp: second.trim() }) : undefined;
        await api.verifyCode(email.trim(), code.trim(), extra);
      } catch (err) {
        if (err instanceof ApiError && err.kind === "totp-required") {
          setInfo("Your account has an authenticator: enter its current code.");
          setStep("second");
          return;
        }
        if (err instanceof ApiError && (err.kind === "code-locked" || err.kind === "code-expired")) {
          setStep("email");
          throw new Error(
            err.kind === "code-locked"
              ? "Too many wrong codes: this code no longer works. Ask for a new one."
              : "This code has expired. Ask for a new one.",
            { cause: err },
          );
        }
        throw err;
      }
      await onSignedIn();
    });
  };

  const wallet = () =>
    void run("Waiting for your wallet…", async () => {
      const { signInWithFreighter } = await import("./wallet");
      await signInWithFreighter(api);
      await onSignedIn();
    });

  return (
    <main id="main" className="signin">
      <PageTitle>Sign in to MediMint</PageTitle>
      {info && (
        <p className="note info" role="status">
          {info}
        </p>
      )}
      <ErrorNote error={error} />
      {busy && <Pending>{busy}</Pending>}
      {step === "email" && (
        <form onSubmit={sendCode} aria-label="Sign in with email">
          <label htmlFor="email">Email</label>
          <input
            id="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          <button type="submit" disabled={busy !== undefined}>
            Send me a code
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy !== undefined}
            onClick={() => {
              if (!email.trim()) {
                setError(new Error("Email: enter the address the code was sent to."));
                return;
              }
              setError(undefined);
              setInfo(undefined);
              setStep("code");
            }}
          >
            I already have a code
          </button>
        </form>
      )}
      {(step === "code" || step === "second") && (
        <form onSubmit={verify} aria-label="Enter your codes">
          <label htmlFor="code">Code from the email</label>
          <input
            id="code"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            required
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
          {step === "second" && (
            <>
              <label htmlFor="second">{useRecovery ? "Recovery code" : "Authenticator code"}</label>
              <input
                id="second"
                autoComplete="one-time-code"
                required
                value={second}
                onChange={(e) => setSecond(e.target.value)}
              />
              <button type="button" className="link" onClick={() => setUseRecovery(!useRecovery)}>
                {useRecovery ? "Use the authenticator instead" : "Lost your authenticator? Use a recovery code"}
              </button>
            </>
          )}
          <button type="submit" disabled={busy !== undefined}>
            Sign in
          </button>
          <button type="button" className="secondary" onClick={() => setStep("email")}>
            Use another email or get a new code
          </button>
        </form>
      )}
      <section aria-labelledby="wallet-h" className="wallet">
        <h2 id="wallet-h">Or use a Stellar wallet</h2>
        <p>Sign a one-time challenge (SEP-10) with the Freighter extension. Nothing is submitted to the network.</p>
        <button type="button" className="secondary" onClick={wallet} disabled={busy !== undefined}>
          Sign in with Freighter
        </button>
      </section>
    </main>
  );
}
