/**
 * The signed-in session: the bearer token in sessionStorage (gone when the tab closes, never
 * sent by the browser on its own, so no request can be forged with it from another site).
 */

const tokenKey = 'twd.token';
const expiresKey = 'twd.expires';

export interface Session {
  token: string;
  /** epoch milliseconds */
  expiresAt: number;
}

/** The stored session, or null when there is none or it has expired. */
export function currentSession(): Session | null {
  const token = sessionStorage.getItem(tokenKey);
  const expiresAt = Number(sessionStorage.getItem(expiresKey));
  if (!token || !(expiresAt > Date.now())) return null;
  return { token, expiresAt };
}

/** Keeps a token for `expiresInSeconds`. */
export function startSession(token: string, expiresInSeconds: number): void {
  sessionStorage.setItem(tokenKey, token);
  sessionStorage.setItem(expiresKey, String(Date.now() + expiresInSeconds * 1000));
  notify();
}

/** Forgets the token; the app shows the sign-in page, with `reason` when given. */
export function endSession(reason: string | null = null): void {
  sessionStorage.removeItem(tokenKey);
  sessionStorage.removeItem(expiresKey);
  notify(reason);
}

type Listener = (reason: string | null) => void;
const listeners = new Set<Listener>();

/** Calls `listener` whenever the session starts or ends; returns the unsubscribe. */
export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(reason: string | null = null): void {
  for (const listener of listeners) listener(reason);
}
