/// <reference types="vite/client" />
interface ImportMetaEnv {
  /** The API's GraphQL endpoint (default http://127.0.0.1:3000/graphql). */
  readonly VITE_API_URL?: string;
  /** "true": the refresh token lives in the API's HttpOnly cookie (the API runs with REFRESH_COOKIE=1). */
  readonly VITE_REFRESH_COOKIE?: string;
}
