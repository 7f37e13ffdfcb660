// Vite: `npm run dev` (development server), `npm run build` (dist/),
// `npm run preview` (serves dist/). The API's URL is fixed at build time:
// VITE_API_URL (default http://127.0.0.1:3000/graphql); the API must list
// this app's origin in CORS_ORIGINS.
import { defineConfig } from "vite";

export default defineConfig({
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  preview: { host: "127.0.0.1", port: 4173, strictPort: true },
  build: { target: "es2022" },
});
