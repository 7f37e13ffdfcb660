// Trusted documents (placeholder until implemented).
import type { Config } from "./config.ts";

export function makeTrustedDocumentsPreset(_config: Config): GraphileConfig.Preset {
  return {};
}
