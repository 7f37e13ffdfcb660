// The soak's requests (bench/soak.ts): every GraphQL document it sends, and
// what a correct answer to each looks like, in one place (a schema change
// that renames a field or a key changes this file only). Each check returns
// what the answer carries, or why it is not a correct answer (a string).
import { GRAPHQL_LIST_QUERY } from "./list-request.ts";
import { parseRefreshAnswer, REFRESH_MUTATION } from "./refresh-load.ts";
import { REFRESH_TOKEN } from "./tokens.ts";

export const SOAK_DOCUMENTS = {
  /** The bench's list request: a member's 20 newest tasks. */
  list: GRAPHQL_LIST_QUERY,
  createTask:
    "mutation SoakCreateTask($projectId: UUID!, $title: String!) { createTask(input: {task: {projectId: $projectId, title: $title}}) { task { rowId title } } }",
  /** A task by its node id: base64 of ["Task", tenantId, rowId] (taskNodeId). */
  updateTask:
    "mutation SoakUpdateTask($id: ID!, $title: String!, $status: TaskStatus!) { updateTask(input: {id: $id, patch: {title: $title, status: $status}}) { task { rowId title status } } }",
  login:
    "mutation SoakLogin($slug: String!, $email: String!, $password: String!) { login(input: {tenantSlug: $slug, email: $email, password: $password}) { result { accessToken refreshToken } } }",
  refresh: REFRESH_MUTATION,
} as const;

/** Values of the TaskStatus enum the updates cycle through. */
export const TASK_STATUSES = ["TODO", "IN_PROGRESS", "DONE"] as const;

/** The node id the API gives a task. */
export function taskNodeId(tenantId: string, rowId: string): string {
  return Buffer.from(JSON.stringify(["Task", tenantId, rowId])).toString("base64");
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Json = Record<string, unknown> | undefined;

/** The answer's `data`, or why there is none: HTTP 200, JSON, no errors. */
function dataOf(status: number, body: string): Json | string {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 200)}`;
  let json: { data?: Record<string, unknown>; errors?: unknown };
  try {
    json = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  if (json.errors) return `errors: ${JSON.stringify(json.errors).slice(0, 200)}`;
  if (!json.data) return `no data: ${body.slice(0, 200)}`;
  return json.data;
}

/** The list: a non-empty array of tasks, each with a rowId. */
export function checkList(status: number, body: string): string | undefined {
  const data = dataOf(status, body);
  if (typeof data === "string") return data;
  const nodes = (data?.tasks as { nodes?: { rowId?: unknown }[] } | undefined)?.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((n) => typeof n?.rowId === "string")) return `no tasks: ${body.slice(0, 200)}`;
  return undefined;
}

/** createTask: the new task's rowId, with the title sent. */
export function checkCreateTask(status: number, body: string, title: string): { rowId: string } | string {
  const data = dataOf(status, body);
  if (typeof data === "string") return data;
  const task = (data?.createTask as { task?: { rowId?: unknown; title?: unknown } } | undefined)?.task;
  if (typeof task?.rowId !== "string" || !UUID.test(task.rowId) || task.title !== title) return `no new task: ${body.slice(0, 200)}`;
  return { rowId: task.rowId };
}

/** updateTask: the same task, with the title and status sent. */
export function checkUpdateTask(status: number, body: string, sent: { rowId: string; title: string; status: string }): string | undefined {
  const data = dataOf(status, body);
  if (typeof data === "string") return data;
  const task = (data?.updateTask as { task?: { rowId?: unknown; title?: unknown; status?: unknown } } | undefined)?.task;
  if (task?.rowId !== sent.rowId || task.title !== sent.title || task.status !== sent.status) return `not updated: ${body.slice(0, 200)}`;
  return undefined;
}

/** login: an access token (a JWT) and a refresh token of the right form. */
export function checkLogin(status: number, body: string): string | undefined {
  const data = dataOf(status, body);
  if (typeof data === "string") return data;
  const result = (data?.login as { result?: { accessToken?: unknown; refreshToken?: unknown } } | undefined)?.result;
  if (typeof result?.accessToken !== "string" || !JWT.test(result.accessToken)) return `no access token: ${body.slice(0, 200)}`;
  if (typeof result.refreshToken !== "string" || !REFRESH_TOKEN.test(result.refreshToken)) return `no refresh token: ${body.slice(0, 200)}`;
  return undefined;
}

/** refresh: a new pair, different from the token sent and from every one seen (bench/refresh-load.ts). */
export const checkRefresh = parseRefreshAnswer;

/**
 * GET /export (common/tenant-export-format.ts): HTTP 200, NDJSON, a header
 * line first, an end line last whose `total` counts the row lines between.
 */
export function checkExport(answer: { status: number; contentType: string; firstLine: string; lastLine: string; lines: number }): string | undefined {
  if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.firstLine.slice(0, 200)}`;
  if (!answer.contentType.startsWith("application/x-ndjson")) return `content-type ${answer.contentType}`;
  try {
    const header = JSON.parse(answer.firstLine);
    const end = JSON.parse(answer.lastLine);
    if (header?.type !== "header") return `first line is not the header: ${answer.firstLine.slice(0, 200)}`;
    if (end?.type !== "end" || typeof end.total !== "number") return `no end line (incomplete): ${answer.lastLine.slice(0, 200)}`;
    if (end.total !== answer.lines - 2) return `the end line counts ${end.total} rows, the file has ${answer.lines - 2}`;
  } catch {
    return `not NDJSON: ${answer.firstLine.slice(0, 100)} … ${answer.lastLine.slice(0, 100)}`;
  }
  return undefined;
}
