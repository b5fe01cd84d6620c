// The JSON API as the UI uses it: the bearer from this tab's session, errors as
// ApiError carrying the server's own sentence ({"error", "detail"}).

const KEY = "jeex.session";
export const PREFIX = "/api/v1";

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY));
    } catch {
      return null;
    }
  },
  set(value) {
    sessionStorage.setItem(KEY, JSON.stringify(value));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  constructor(status, name, detail, body = null) {
    super(detail);
    this.status = status;
    this.error = name;
    // The whole error body: some carry more than a sentence (a template's problems).
    this.body = body;
  }
}

function headers(extra = {}) {
  const current = session.get();
  const all = { Accept: "application/json", ...extra };
  if (current) all.Authorization = `Bearer ${current.token}`;
  return all;
}

async function failure(response) {
  let name = "HTTPError";
  let detail = `${response.status} ${response.statusText}`;
  let body = null;
  try {
    body = await response.json();
    name = body.error || name;
    detail = body.detail || detail;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401 && session.get()) {
    session.clear();
    window.dispatchEvent(new CustomEvent("jeex:signed-out", { detail }));
  }
  return new ApiError(response.status, name, detail, body);
}

export async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const extra = {};
  let body;
  if (json !== undefined) {
    extra["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  let response;
  try {
    response = await fetch(PREFIX + path, { method, headers: headers(extra), body });
  } catch {
    throw new ApiError(0, "NetworkError", "The server cannot be reached; check the connection.");
  }
  if (!response.ok) throw await failure(response);
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

// Multipart upload with progress (fetch cannot report upload progress); `fields` are
// more form fields sent beside the file (an exhibit's chosen id).
export function upload(path, file, onProgress, fields = {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", PREFIX + path);
    for (const [name, value] of Object.entries(headers())) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // keep null
      }
      if (request.status >= 200 && request.status < 300) resolve(body);
      else reject(new ApiError(request.status, body?.error || "HTTPError", body?.detail || request.statusText));
    });
    request.addEventListener("error", () =>
      reject(new ApiError(0, "NetworkError", "The upload was interrupted; try again.")),
    );
    const data = new FormData();
    for (const [name, value] of Object.entries(fields)) if (value) data.append(name, value);
    data.append("file", file, file.name);
    request.send(data);
  });
}

// A file behind the bearer, saved through a temporary object URL.
export async function download(path, fallbackName) {
  const response = await api(path, { raw: true });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
