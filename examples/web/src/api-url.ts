/** The API's GraphQL endpoint, fixed at build time (`VITE_API_URL`). */
export const API_URL: string = import.meta.env.VITE_API_URL ?? "http://127.0.0.1:3000/graphql";
