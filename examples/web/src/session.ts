// The session: the access and refresh tokens, kept in localStorage so that
// every tab of the app shares one session, and the refresh recipe.
//
// Refresh tokens rotate: each works once, and a used one presented again ends
// the whole session. So at most one refresh may run at a time across all
// tabs: a refresh takes a Web Lock (navigator.locks, shared by the tabs of an
// origin), then re-reads the stored tokens; when another tab replaced them
// while this one waited, it adopts them instead of refreshing again.
//
// localStorage is readable by any script the page runs: a real app keeps
// its pages free of injected scripts (a Content-Security-Policy) or keeps the
// refresh token out of page storage (docs/frontend.md).

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

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
    return typeof tokens.accessToken === "string" && typeof tokens.refreshToken === "string" ? tokens : null;
  } catch {
    return null;
  }
}

export function save(tokens: Tokens): void {
  localStorage.setItem(KEY, JSON.stringify({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }));
  notify();
}

export function clear(): void {
  localStorage.removeItem(KEY);
  notify();
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

/** What `exchange` tells about the refresh token it was given. */
export type RefreshOutcome = { tokens: Tokens } | { rejected: true } | { failed: true };

/**
 * Replaces the stored tokens with fresh ones, once across every tab.
 * `exchange` calls the API's `refresh`; a rejected refresh token (BADRT)
 * ends the session here, a network failure leaves it for the next try.
 */
export async function refresh(exchange: (refreshToken: string) => Promise<RefreshOutcome>): Promise<void> {
  const before = load();
  if (!before) return;
  const run = async () => {
    const current = load();
    // Logged out meanwhile, or another tab already refreshed: nothing to do.
    if (!current || current.refreshToken !== before.refreshToken) return;
    const outcome = await exchange(current.refreshToken);
    if ("tokens" in outcome) save(outcome.tokens);
    else if ("rejected" in outcome) clear();
  };
  // Web Locks exist in secure contexts (https, and http on localhost/127.0.0.1).
  if (navigator.locks) await navigator.locks.request(LOCK, run);
  else await run();
}
