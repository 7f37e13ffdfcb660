// The token of an emailed link (reset-password, verify-email), kept for the
// tab in sessionStorage instead of the address bar: the screen that uses it
// survives a reload, and the token is in neither the URL nor the history.
const key = (route: string) => `mts.link-token:${route}`;

export function keep(route: string, token: string): void {
  sessionStorage.setItem(key(route), token);
}

export function read(route: string): string {
  return sessionStorage.getItem(key(route)) ?? "";
}

/** Forgets the token once the API has answered (a used token never works again). */
export function forget(route: string): void {
  sessionStorage.removeItem(key(route));
}
