// Trusted documents (persisted operations): with TRUSTED_DOCUMENTS set, the
// API runs only the GraphQL documents its own frontends were built with,
// named by id; raw `query` text is refused. Built on @grafserv/persisted,
// through its documented options only.
//
// TRUSTED_DOCUMENTS names either
// - a JSON file mapping document id -> document text (what graphql-codegen's
//   client preset writes as persisted-documents.json), or
// - a folder of such JSON files and/or `<id>.graphql` files (the layout
//   @grafserv/persisted documents for persistedOperationsDirectory).
// Everything is read and parsed once, at start-up; a malformed file stops
// start-up with an Error that names it.
//
// A client sends `documentId` (also accepted, as by the plugin: `id`, or
// Apollo's `extensions.persistedQuery.sha256Hash`), with `variables` and
// `operationName` as usual.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { PersistedPlugin } from "@grafserv/persisted";
import type { ParsedGraphQLBody } from "postgraphile/grafserv";
import { SafeError } from "postgraphile/grafast";
import { parse } from "postgraphile/graphql";
import type { Config } from "../common/config.ts";

/** `extensions.code` of every refused request. */
export const UNTRUSTED_DOCUMENT = "UNTRUSTED_DOCUMENT";

/** Ids as generators write them: hex hashes, optionally `sha256:`-prefixed; nothing that could be a path. */
const ID = /^[A-Za-z0-9_:-]{1,200}$/;

/** The document id a request names, if any (the plugin's own default order, but strings only). */
export function documentIdOf(body: Pick<ParsedGraphQLBody, "id" | "documentId" | "extensions">): string | undefined {
  const extensions = body.extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined;
  for (const candidate of [extensions?.persistedQuery?.sha256Hash, body.documentId, body.id]) {
    if (typeof candidate === "string" && candidate !== "") return candidate;
  }
  return undefined;
}

function fail(file: string, problem: string): never {
  throw new Error(`TRUSTED_DOCUMENTS: ${file}: ${problem}`);
}

/** Adds one document, checking its id and that it parses. */
function add(documents: Map<string, string>, file: string, id: string, text: unknown) {
  if (!ID.test(id)) fail(file, `document id ${JSON.stringify(id.slice(0, 80))} is not a valid id (letters, digits, "_", "-", ":")`);
  if (typeof text !== "string" || text.trim() === "") fail(file, `document ${id} is not a non-empty string`);
  try {
    parse(text);
  } catch (error) {
    fail(file, `document ${id} is not valid GraphQL: ${(error as Error).message}`);
  }
  const known = documents.get(id);
  if (known !== undefined && known !== text) fail(file, `document ${id} is also defined, with other text, in another file`);
  documents.set(id, text);
}

function addJsonFile(documents: Map<string, string>, file: string) {
  let map: unknown;
  try {
    map = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    fail(file, `not valid JSON (${(error as Error).message})`);
  }
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    fail(file, "expected a JSON object mapping document id to document text");
  }
  for (const [id, text] of Object.entries(map)) add(documents, file, id, text);
}

/** Reads every trusted document named by `path` (a JSON file, or a folder of JSON and `<id>.graphql` files). */
export function loadTrustedDocuments(path: string): Map<string, string> {
  const documents = new Map<string, string>();
  if (statSync(path).isDirectory()) {
    const names = readdirSync(path).sort();
    for (const name of names) {
      const file = join(path, name);
      if (!statSync(file).isFile()) continue;
      if (name.endsWith(".json")) addJsonFile(documents, file);
      else if (name.endsWith(".graphql")) add(documents, file, basename(name, ".graphql"), readFileSync(file, "utf8"));
      // Anything else (a README...) is not a trusted document.
    }
    if (documents.size === 0) fail(path, "the folder holds no trusted documents (*.json maps or <id>.graphql files)");
  } else {
    addJsonFile(documents, path);
    if (documents.size === 0) fail(path, "the file holds no trusted documents");
  }
  return documents;
}

function refuse(message: string): never {
  // A SafeError's message and extensions reach the client as they are;
  // grafserv answers with extensions.statusCode as the HTTP status.
  throw new SafeError(message, { code: UNTRUSTED_DOCUMENT, statusCode: 400 });
}

export function makeTrustedDocumentsPreset(config: Config): GraphileConfig.Preset {
  if (!config.trustedDocuments) return {};
  const documents = loadTrustedDocuments(config.trustedDocuments);

  /**
   * In front of PersistedPlugin: refuses, with a stable code, a request that
   * carries its own query text (even alongside an id: the plugin would
   * silently run the id's document instead) or names no known document. So
   * the plugin only ever sees known ids, and never logs a refused request's
   * payload (its variables may hold passwords).
   */
  const TrustedDocumentsPlugin: GraphileConfig.Plugin = {
    name: "TrustedDocumentsPlugin",
    version: "1.0.0",
    description: "Refuses untrusted GraphQL documents with extensions.code UNTRUSTED_DOCUMENT",
    grafserv: {
      middleware: {
        processGraphQLRequestBody: {
          before: ["PersistedPlugin"],
          callback(next, event) {
            if (event.body.query != null) {
              refuse("This server runs only trusted documents: send the documentId of a known document, not a query.");
            }
            const id = documentIdOf(event.body);
            if (id === undefined || !documents.has(id)) {
              refuse("This server runs only trusted documents, and the request names no known documentId.");
            }
            return next();
          },
        },
      },
    },
  };

  return {
    plugins: [TrustedDocumentsPlugin, PersistedPlugin],
    grafserv: {
      hashFromPayload: documentIdOf,
      persistedOperationsGetter: (id) => documents.get(id) as string,
      allowUnpersistedOperation: false,
    },
  };
}
