// The API's refresh cookie (REFRESH_COOKIE=1 there, VITE_REFRESH_COOKIE=true
// here): POST /auth/refresh and /auth/logout, beside /graphql, with the
// cookie (credentials: "include"; the API allows it for CORS_ORIGINS only).
// The refresh token never reaches page storage: right after a login it is
// handed to /auth/refresh once, which puts it into the HttpOnly cookie.
import { API_URL } from "./api-url.ts";
import type { RefreshOutcome } from "./session.ts";

const endpoint = (path: string) => new URL(path, API_URL).href;

async function post(path: string, body: Record<string, string>): Promise<Response> {
  return fetch(endpoint(path), {
    method: "POST",
    credentials: "include",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Exchanges the cookie's refresh token (or `refreshToken`, right after a login) for an access token; the cookie gets the next one. */
export async function refreshWithCookie(refreshToken?: string): Promise<RefreshOutcome> {
  let response: Response;
  try {
    response = await post("/auth/refresh", refreshToken ? { refreshToken } : {});
  } catch {
    return { failed: true };
  }
  const body = (await response.json().catch(() => ({}))) as { accessToken?: string };
  if (response.ok && typeof body.accessToken === "string") return { tokens: { accessToken: body.accessToken } };
  return response.status === 401 ? { rejected: true } : { failed: true };
}

/** Ends the session on the server and clears the cookie. */
export async function logoutWithCookie(): Promise<void> {
  await post("/auth/logout", {}).catch(() => undefined);
}
