// The photo API, called with the access token in the `Authorization` header. A refusal becomes
// an ApiError whose message is the problem body's `title` (RFC 9457), which the page shows.

import { accessToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(title);
    this.status = status;
    this.detail = detail;
  }
}

function problemOf(status, text) {
  try {
    const body = JSON.parse(text);
    return new ApiError(status, body.title || `HTTP ${status}`, body.detail);
  } catch {
    return new ApiError(status, `HTTP ${status}`);
  }
}

async function call(path, init = {}) {
  const headers = { Authorization: `Bearer ${await accessToken()}`, ...init.headers };
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) throw problemOf(res.status, await res.text());
  return res;
}

// One page, newest first: `{ items, next_cursor }`.
export async function listPhotos(cursor, limit = 12) {
  const query = new URLSearchParams({ limit });
  if (cursor) query.set("cursor", cursor);
  return (await call(`/api/photos?${query}`)).json();
}

export async function photoContent(id) {
  return (await call(`/api/photos/${encodeURIComponent(id)}/content`)).blob();
}

export async function deletePhoto(id) {
  await call(`/api/photos/${encodeURIComponent(id)}`, { method: "DELETE" });
}

// What the service knows of the caller, or null where `/api/me` is not served.
export async function me() {
  try {
    return await (await call("/api/me")).json();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

// Uploads one file with XHR, whose upload events (unlike fetch's) report progress:
// `onProgress(sent, total)`. Resolves to the stored photo.
export async function upload(file, onProgress) {
  const token = await accessToken();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/uploads");
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) resolve(JSON.parse(xhr.responseText));
      else reject(problemOf(xhr.status, xhr.responseText));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "Network error: upload not sent")));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
