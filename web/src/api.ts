// The console's JSON API (src/console/console.cc): fetch with the session cookie and, for
// state-changing requests, the X-Sluice-CSRF header.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf = "";
export function setCsrf(token: string): void {
  csrf = token;
}

export interface Column {
  name: string;
  type: string;
}
export interface QueryResult {
  id?: string;
  columns: Column[];
  rows: (string | null)[][];
  row_count: number;
  truncated: boolean;
  elapsed_ms: number;
  tag: string;
  cached?: boolean;
  refreshed_at?: string;
  sql?: string;
}

export async function api<T = any>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-Sluice-CSRF"] = csrf;
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (e) {
    throw new ApiError(0, `cannot reach the console server (${(e as Error).message})`);
  }
  const text = await resp.text();
  const type = resp.headers.get("Content-Type") || "";
  if (!resp.ok) {
    let message = text || resp.statusText;
    if (type.includes("json")) {
      try {
        message = JSON.parse(text).message ?? message;
      } catch {
        /* keep the text */
      }
    }
    throw new ApiError(resp.status, message);
  }
  if (type.includes("json")) return JSON.parse(text) as T;
  return text as unknown as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body: unknown = {}) => api<T>("POST", path, body);

export function newId(): string {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return "q" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
