// The session: the tokens, kept in localStorage so that every tab of the app
// shares one session, and the refresh recipe.
//
// Refresh tokens rotate: each works once, and a used one presented again ends
// the whole session. So at most one refresh may run at a time across all
// tabs: a refresh takes a Web Lock (navigator.locks, shared by the tabs of an
// origin), then re-reads the stored tokens; when another tab replaced them
// while this one waited, it adopts them instead of refreshing again.
// Inside the lock the tokens are read from IndexedDB, not localStorage:
// Chromium gives each tab's process a cached copy of localStorage, updated
// from other tabs asynchronously, so right after another tab's refresh a tab
// may still read the old tokens there (and refresh with a used token).
// IndexedDB answers every tab from one store; localStorage stays for the
// synchronous reads of every request and for the `storage` event.
//
// Two ways to keep the refresh token (docs/frontend.md):
// - in localStorage with the access token (the default), where any script
//   the page runs can read it;
// - with VITE_REFRESH_COOKIE=true (the API's REFRESH_COOKIE=1), in an
//   HttpOnly cookie that only the API's /auth endpoints see
//   (src/refresh-cookie.ts); the page stores the short-lived access token only.

/** The tokens the page keeps: `refreshToken` is absent in cookie mode. */
export interface Tokens {
  accessToken: string;
  refreshToken?: string;
}

/** True when the refresh token lives in the API's HttpOnly cookie. */
export const REFRESH_COOKIE = import.meta.env.VITE_REFRESH_COOKIE === "true";

const KEY = "mts.session";
const LOCK = "mts.refresh";
/** Refresh this long before the access token expires, so that a request never carries an expired one. */
const EARLY_MS = 5_000;

const listeners = new Set<() => void>();

export function load(): Tokens | null {
  const raw = localStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const tokens = JSON.parse(raw) as Tokens;
    if (typeof tokens.accessToken !== "string") return null;
    if (!REFRESH_COOKIE && typeof tokens.refreshToken !== "string") return null;
    return tokens;
  } catch {
    return null;
  }
}

/** Stores the tokens for every tab; resolves once IndexedDB holds them. */
export function save(tokens: Tokens): Promise<void> {
  const kept: Tokens = REFRESH_COOKIE ? { accessToken: tokens.accessToken } : { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
  localStorage.setItem(KEY, JSON.stringify(kept));
  notify();
  return writeShared(kept);
}

export function clear(): Promise<void> {
  localStorage.removeItem(KEY);
  notify();
  return writeShared(null);
}

// --- The copy every tab reads alike: one IndexedDB record -----------------

function database(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("mts", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("session");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Writes the shared copy (where IndexedDB is unavailable, localStorage alone serves). */
async function writeShared(tokens: Tokens | null): Promise<void> {
  const db = await database().catch(() => null);
  if (!db) return;
  await new Promise<void>((resolve, reject) => {
    const transaction = db.transaction("session", "readwrite");
    if (tokens) transaction.objectStore("session").put(tokens, KEY);
    else transaction.objectStore("session").delete(KEY);
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
  });
  db.close();
}

async function readShared(): Promise<Tokens | null> {
  const db = await database();
  const tokens = await new Promise<Tokens | null>((resolve, reject) => {
    const request = db.transaction("session").objectStore("session").get(KEY);
    request.onsuccess = () => resolve((request.result as Tokens | undefined) ?? null);
    request.onerror = () => reject(request.error);
  });
  db.close();
  return tokens;
}

/** Calls `listener` whenever the session changes, in this tab or another one. */
export function onChange(listener: () => void): void {
  listeners.add(listener);
}

function notify() {
  for (const listener of listeners) listener();
}

// Another tab logged in, refreshed or logged out.
window.addEventListener("storage", (event) => {
  if (event.key === KEY || event.key === null) notify();
});

/** The access token's `exp` claim in milliseconds (the token is a JWT; its signature is the server's business). */
function expiresAt(accessToken: string): number {
  try {
    const payload = accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const { exp } = JSON.parse(atob(payload)) as { exp?: number };
    return typeof exp === "number" ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}

/** True when the stored access token has expired or is about to. */
export function accessTokenIsStale(tokens: Tokens, now = Date.now()): boolean {
  return expiresAt(tokens.accessToken) - EARLY_MS <= now;
}

/** What a refresh gave: new tokens, a refused refresh token (the session is over), or no answer (try again later). */
export type RefreshOutcome = { tokens: Tokens } | { rejected: true } | { failed: true };

/**
 * Replaces the stored tokens with fresh ones, once across every tab.
 * `replacing` is the access token found expired or refused: when the stored
 * one is already another, a tab refreshed meanwhile and there is nothing to
 * do. `exchange` asks the API, with the stored tokens; a refused refresh
 * token ends the session here, a network failure leaves it for the next try.
 */
export async function refresh(replacing: string | undefined, exchange: (current: Tokens) => Promise<RefreshOutcome>): Promise<void> {
  const run = async () => {
    const current = await readShared().catch(() => load());
    // Logged out meanwhile: nothing to do.
    if (!current) return void (load() && clear());
    // Another tab already refreshed: use its tokens.
    if (replacing !== undefined && current.accessToken !== replacing) return save(current);
    const outcome = await exchange(current);
    // Stored before the lock is released, so the next tab finds them.
    if ("tokens" in outcome) await save(outcome.tokens);
    else if ("rejected" in outcome) await clear();
  };
  // Web Locks exist in secure contexts (https, and http on localhost/127.0.0.1).
  if (navigator.locks) await navigator.locks.request(LOCK, run);
  else await run();
}
