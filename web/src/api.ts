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

// The last line of a streamed query (POST /api/queries/stream, docs/console.md).
export interface QueryDone {
  id: string;
  row_count: number;
  truncated: boolean;
  limit: number;
  elapsed_ms: number;
  tag: string;
  snapshot_id?: number;
}

// Runs a query with the streaming endpoint: `onColumns` once, then `onRows` for every batch of
// rows as the server sends them (NDJSON read with a ReadableStream). Resolves with the done line;
// rejects with an ApiError (409 for a cancelled query) — an error may come after some rows.
export async function streamQuery(
  body: { sql: string; limit: number; id: string },
  onColumns: (columns: Column[]) => void,
  onRows: (rows: (string | null)[][]) => void,
  signal?: AbortSignal,
): Promise<QueryDone> {
  let resp: Response;
  try {
    resp = await fetch("/api/queries/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Sluice-CSRF": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (e) {
    throw new ApiError(0, `cannot reach the console server (${(e as Error).message})`);
  }
  if (!resp.ok || !resp.body) {
    const text = await resp.text();
    let message = text || resp.statusText;
    try {
      message = JSON.parse(text).message ?? message;
    } catch {
      /* keep the text */
    }
    throw new ApiError(resp.status, message);
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let done: QueryDone | null = null;
  const handle = (line: string) => {
    if (!line) return;
    const msg = JSON.parse(line);
    if (msg.error) throw new ApiError(msg.error.status ?? 500, msg.error.message);
    if (msg.columns) onColumns(msg.columns);
    else if (msg.rows) onRows(msg.rows);
    else if (msg.done) done = msg as QueryDone;
  };
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new ApiError(0, `the result stream broke off (${(e as Error).message})`);
    }
    if (chunk.done) break;
    buffered += decoder.decode(chunk.value, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        handle(line);
      } catch (e) {
        await reader.cancel().catch(() => {});
        throw e;
      }
    }
  }
  handle(buffered + decoder.decode());
  if (!done) throw new ApiError(0, "the result stream ended before the query finished");
  return done;
}
