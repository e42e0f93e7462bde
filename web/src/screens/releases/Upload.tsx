import { useState, type DragEvent, type FormEvent } from "react";
import type { NewRelease, ReleaseUploads, Upload as UploadItem } from "../../api/client";
import { ApiError } from "../../api/problem";
import { useApp } from "../../app/context";
import { ErrorNote, PageTitle, Pending } from "../../app/ui";
import { presentedName } from "../../lib/bytes";
import { bytes } from "../../lib/format";
import { href } from "../../lib/route";
import { put, releaseFiles, type Chosen } from "../../lib/upload";

interface Patient {
  email: string;
  family_name: string;
  given_names: string;
  birth_date: string;
  patient_id: string;
}

const EMPTY: Patient = { email: "", family_name: "", given_names: "", birth_date: "", patient_id: "" };

export function Upload() {
  const { api } = useApp();
  const [chosen, setChosen] = useState<Chosen[]>([]);
  const [patient, setPatient] = useState<Patient>(EMPTY);
  const [uid, setUid] = useState("");
  const [busy, setBusy] = useState<string | undefined>();
  const [sent, setSent] = useState<number | undefined>();
  const [error, setError] = useState<unknown>();
  const [over, setOver] = useState(false);
  const total = chosen.reduce((n, c) => n + c.file.size, 0);

  const choose = (files: File[]) => {
    setError(undefined);
    setChosen(files.map((f) => ({ path: presentedName(f.webkitRelativePath, f.name), file: f })));
  };

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    choose(Array.from(e.dataTransfer.files));
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    if (chosen.length === 0) {
      setError(new Error("Choose the study's folder or files first."));
      return;
    }
    try {
      const files = releaseFiles(chosen);
      const byPath = new Map(chosen.map((c) => [c.path, c.file]));
      setBusy("Starting the release…");
      // docs/openapi.json describes `patient` and `files` only as objects (their fields are
      // in its descriptions and docs/ingest.md), so the generated type cannot check them.
      const body = {
        patient: { ...patient },
        files,
        study_instance_uid: uid.trim() || null,
      } as unknown as NewRelease;
      const started = await api.startRelease(body);
      const id = started.release_id;
      let batch: ReleaseUploads | undefined = started;
      let done = 0;
      setSent(0);
      while (batch) {
        for (const u of batch.uploads) {
          const file = byPath.get(u.path);
          if (!file) throw new Error(`The API listed ${u.path}, which was not chosen.`);
          if (!u.uploaded) {
            setBusy(`Uploading ${u.index + 1} of ${files.length}: ${u.path}`);
            await putWithRenewal(id, u, file, (n) => setSent(done + n));
          }
          done += file.size;
          setSent(done);
        }
        const last = batch.uploads.at(-1);
        batch = batch.next_uploads && last ? await api.uploads(id, last.index + 1) : undefined;
      }
      setBusy("Starting the checks…");
      await api.completeRelease(id);
      window.location.assign(href({ name: "release", id }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
      setSent(undefined);
    }
  };

  /** One upload; an expired or refused URL is renewed once. */
  const putWithRenewal = async (id: string, u: UploadItem, file: Blob, onBytes: (n: number) => void) => {
    try {
      await put(u, file, onBytes);
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 403 && err.status !== 401)) throw err;
      const fresh = (await api.uploads(id, u.index)).uploads.find((x) => x.index === u.index);
      if (!fresh) throw err;
      await put(fresh, file, onBytes);
    }
  };

  const set = (k: keyof Patient) => (e: { target: { value: string } }) => setPatient({ ...patient, [k]: e.target.value });
  return (
    <>
      <PageTitle>Upload a study</PageTitle>
      <p>
        The files go straight to storage; MediMint then checks them against the patient's details, encrypts them to the
        patient and asks for the patient's consent.
      </p>
      <form onSubmit={(e) => void submit(e)}>
        <fieldset disabled={busy !== undefined}>
          <legend>The study</legend>
          <div
            className={over ? "drop over" : "drop"}
            onDragOver={(e) => {
              e.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={drop}
          >
            <p>Drop the DICOM files here, or choose the study's folder or its files.</p>
            <label htmlFor="up-folder">Study folder</label>
            <input
              id="up-folder"
              type="file"
              {...{ webkitdirectory: "", directory: "" }}
              onChange={(e) => choose(Array.from(e.target.files ?? []))}
            />
            <label htmlFor="up-files">Or files</label>
            <input id="up-files" type="file" multiple onChange={(e) => choose(Array.from(e.target.files ?? []))} />
            <p role="status">
              {chosen.length === 0 ? "Nothing chosen yet." : `${chosen.length} files, ${bytes(total)}.`}
            </p>
          </div>
        </fieldset>
        <fieldset disabled={busy !== undefined}>
          <legend>The patient, as in the DICOM headers</legend>
          <label htmlFor="p-email">Patient's email (their MediMint account)</label>
          <input id="p-email" type="email" required autoComplete="off" value={patient.email} onChange={set("email")} />
          <label htmlFor="p-family">Family name</label>
          <input id="p-family" required autoComplete="off" value={patient.family_name} onChange={set("family_name")} />
          <label htmlFor="p-given">Given names</label>
          <input id="p-given" required autoComplete="off" value={patient.given_names} onChange={set("given_names")} />
          <label htmlFor="p-birth">Birth date</label>
          <input id="p-birth" type="date" required value={patient.birth_date} onChange={set("birth_date")} />
          <label htmlFor="p-id">Patient id (MRN)</label>
          <input id="p-id" required autoComplete="off" value={patient.patient_id} onChange={set("patient_id")} />
          <label htmlFor="p-uid">Study Instance UID (optional)</label>
          <input id="p-uid" autoComplete="off" value={uid} onChange={(e) => setUid(e.target.value)} />
        </fieldset>
        <ErrorNote error={error} />
        {busy && <Pending>{busy}</Pending>}
        {sent !== undefined && (
          <p>
            <label htmlFor="up-progress">Uploaded</label> <progress id="up-progress" max={total} value={sent} />{" "}
            {bytes(sent)} of {bytes(total)}
          </p>
        )}
        <button type="submit" disabled={busy !== undefined}>
          Upload and release
        </button>
      </form>
    </>
  );
}
