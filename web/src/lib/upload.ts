// Uploads straight to storage through the URLs the API signed (S3 presigned PUTs in AWS,
// the API's own signed PUT locally), with progress. XMLHttpRequest, because fetch reports
// no upload progress.

import { problemFrom, networkError, type ApiError } from "../api/problem";

export interface PutTarget {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Sends `body` to the signed URL; resolves when stored, rejects with the refusal in words. */
export function put(target: PutTarget, body: Blob, onBytes: (sent: number) => void): Promise<void> {
  return new Promise((resolve, reject: (e: ApiError) => void) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, target.url);
    for (const [k, v] of Object.entries(target.headers)) {
      if (k.toLowerCase() !== "content-length" && k.toLowerCase() !== "host") xhr.setRequestHeader(k, v);
    }
    xhr.upload.onprogress = (e) => onBytes(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onBytes(body.size);
        resolve();
      } else {
        const headers = new Headers();
        const retry = xhr.getResponseHeader("retry-after");
        if (retry) headers.set("retry-after", retry);
        reject(problemFrom(xhr.status, xhr.responseText, headers));
      }
    };
    xhr.onerror = () => reject(networkError(new Error("the upload was interrupted")));
    xhr.send(body);
  });
}

/** A file chosen for a release: its path in the release and its bytes. */
export interface Chosen {
  path: string;
  file: Blob;
}

/** The release's file list from chosen files (paths below the chosen folder, sorted, unique). */
export function releaseFiles(chosen: Chosen[]): { path: string; size: number }[] {
  const seen = new Set<string>();
  const out: { path: string; size: number }[] = [];
  for (const c of [...chosen].sort((a, b) => a.path.localeCompare(b.path))) {
    if (seen.has(c.path)) throw new Error(`Two files are named ${c.path}: choose one folder, or rename one.`);
    seen.add(c.path);
    out.push({ path: c.path, size: c.file.size });
  }
  return out;
}
