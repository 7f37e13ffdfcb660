// graphql-codegen: typed documents for the example app, from the API's
// committed SDL (../../generated/schema.graphql, written by `npm run generate`
// at the root). The client preset writes src/gql/: the schema's types, one
// typed document per operation in src/documents.ts, and
// persisted-documents.json (document hash -> text), which is the list of
// trusted documents the API enforces with TRUSTED_DOCUMENTS.
// CODEGEN_OUT writes elsewhere (the staleness test compares a fresh run).
import type { CodegenConfig } from "@graphql-codegen/cli";

const out = process.env.CODEGEN_OUT ?? "src/gql/";

const config: CodegenConfig = {
  schema: "../../generated/schema.graphql",
  documents: ["src/documents.ts"],
  ignoreNoDocuments: false,
  generates: {
    [out.endsWith("/") ? out : `${out}/`]: {
      preset: "client",
      presetConfig: {
        // No fragment masking: the app is small and reads fields directly.
        fragmentMasking: false,
        // Each document carries its sha256 hash (`__meta__.hash`), which the
        // client sends instead of the text; the text stays in the bundle.
        persistedDocuments: { hashAlgorithm: "sha256", mode: "embedHashInDocument" },
      },
      config: {
        // The API's custom scalars (generated/schema.graphql), as they travel in JSON.
        scalars: {
          UUID: "string",
          Datetime: "string",
          Date: "string",
          Cursor: "string",
          JSON: "unknown",
          JwtToken: "string",
        },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
        avoidOptionals: false,
      },
    },
  },
};

export default config;
