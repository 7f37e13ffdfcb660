// Cleanup for resources a test file creates inside its hooks (vitest does
// not register hooks declared inside other hooks). Runs after the file, in
// reverse order of creation: servers close before their database is dropped.
import { afterAll } from "vitest";

const cleanups: (() => Promise<unknown> | unknown)[] = [];

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

export function onCleanup(fn: () => Promise<unknown> | unknown) {
  cleanups.push(fn);
}
