// An issuer's records requests (docs/records-requests.md): ask an institution without an
// account for a patient's records (the upload link and the access code are shown once, to
// be sent by different channels), and follow each request to its release.

import { useState, type FormEvent } from "react";
import type { CreatedRequest } from "../../api/client";
import { useApp } from "../../app/context";
import { useAsync } from "../../app/useAsync";
import { Done, ErrorNote, PageTitle, Pending } from "../../app/ui";
import { endOfDay } from "../../lib/format";

const STATUS: Record<string, string> = {
  awaiting_institution: "Waiting for the institution",
  opened: "Opened by the institution",
  submitted: "Uploaded",
  expired: "Expired",
  locked: "Locked (wrong codes)",
};

export function Requests() {
  const { api } = useApp();
  const list = useAsync("requests", () => api.requests());
  const [form, setForm] = useState({
    email: "",
    family_name: "",
    given_names: "",
    birth_date: "",
    patient_id: "",
    requested: "",
    institution: "",
    deadline: "",
  });
  const [made, setMade] = useState<CreatedRequest | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setMade(undefined);
    try {
      const deadline = endOfDay(form.deadline);
      if (deadline === undefined) throw new Error("Give the deadline as a date.");
      const { email, family_name, given_names, birth_date, patient_id, requested, institution } = form;
      setMade(
        await api.createRequest({
          patient: { email, family_name, given_names, birth_date, patient_id },
          requested,
          institution,
          deadline,
        }),
      );
      await list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const field = (k: keyof typeof form, label: string, type = "text") => (
    <p>
      <label htmlFor={`rq-${k}`}>{label}</label>
      <input id={`rq-${k}`} type={type} required autoComplete="off" value={form[k]} onChange={set(k)} />
    </p>
  );

  return (
    <>
      <PageTitle>Records requests</PageTitle>
      <section aria-labelledby="rq-new-h">
        <h2 id="rq-new-h">Ask an institution for records</h2>
        <p>
          The institution needs no account: it gets an upload link and, separately, an access code. What it uploads
          is checked against the patient's details and released to the patient, waiting for their consent.
        </p>
        <form onSubmit={(e) => void submit(e)}>
          {field("email", "Patient's email", "email")}
          {field("family_name", "Family name (as in the DICOM headers)")}
          {field("given_names", "Given names")}
          {field("birth_date", "Birth date", "date")}
          {field("patient_id", "Patient id at the institution")}
          {field("requested", "What is requested")}
          {field("institution", "Institution")}
          {field("deadline", "Deadline", "date")}
          <button type="submit" disabled={busy}>
            Create the request
          </button>
        </form>
        {busy && <Pending>Recording the request…</Pending>}
        <ErrorNote error={error} />
        {made && (
          <Done>
            Request {made.request.id.slice(0, 11)}… created. Send the link: <code className="secret">{made.upload_url}</code>{" "}
            and, by another channel, the access code <strong className="passcode">{made.code}</strong> (shown only now).
          </Done>
        )}
      </section>
      <section aria-labelledby="rq-list-h">
        <h2 id="rq-list-h">Your requests</h2>
        <ErrorNote error={list.error} />
        {list.value && list.value.length === 0 && <p>No records requests yet.</p>}
        {list.value && list.value.length > 0 && (
          <table>
            <caption className="sr-only">Your records requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Deadline</th>
                <th scope="col">Study</th>
              </tr>
            </thead>
            <tbody>
              {list.value.map((r) => (
                <tr key={r.id}>
                  <td>
                    <code>{r.id.slice(0, 11)}…</code>
                  </td>
                  <td>{STATUS[r.status] ?? r.status}</td>
                  <td>{new Date(r.deadline * 1000).toLocaleDateString()}</td>
                  <td>{r.fulfilled_token != null ? `#${r.fulfilled_token}` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
