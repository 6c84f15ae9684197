/**
 * Calls to the UI's JSON API (server/ui/ui-app.ts) with the session's bearer token, without React:
 * the page's entry (main.ts) starts the first page's calls here before React and the page's code are
 * even parsed, so the server computes the answer while the browser compiles the script.
 *
 * The token comes from the address `flywheel ui` prints (`/?token=...`, then taken out of the
 * address bar) or from the sign-in form, and is kept in this tab's sessionStorage only.
 */

const TOKEN_KEY = 'flywheel.token';

export function captureTokenFromAddress(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete('token');
  window.history.replaceState(null, '', `${url.pathname}${url.search}${url.hash}`);
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function getJson<T>(path: string): Promise<T> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
  if (!response.ok) throw new ApiError(response.status, body?.error?.code ?? 'error', body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body as T;
}

/** Calls started before the page was drawn, by path; each is taken once, by the first page that asks. */
const started = new Map<string, Promise<unknown>>();

/** Starts the call now; the page's `useApi(path)` takes its answer instead of calling again. */
export function prefetchJson(path: string): void {
  const call = getJson(path);
  call.catch(() => undefined); // the page that takes it sees the error
  started.set(path, call);
}

/** The prefetched call of `path` (once), or a new call. */
export function takeOrGetJson<T>(path: string): Promise<T> {
  const call = started.get(path);
  if (!call) return getJson<T>(path);
  started.delete(path);
  return call as Promise<T>;
}
