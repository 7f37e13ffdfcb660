// app_public.tasks: members and admins of a tenant read, add, change and
// delete its tasks; anonymous has no access; operators (acting in a
// tenant) only read.
import type { PolicyCase } from "../helpers/policy.ts";
import { operatorReads, withoutPrivilege } from "./shared.ts";

export const cases: PolicyCase[] = [
  { actor: "operator acting in A", does: "lists tasks", sql: "select * from app_public.tasks", expect: { rows: 3, tenant: "A" } },
  ...operatorReads("tasks"),
  {
    actor: "operator acting in A",
    does: "adds a task to A's project",
    sql: "insert into app_public.tasks (project_id, title) values ($1, 'Support')",
    params: (w) => [w.work.A.projectId],
    expect: { error: "permission denied" },
  },
  { actor: "operator acting in A", does: "renames A's tasks", sql: "update app_public.tasks set title = 'x'", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes A's tasks", sql: "delete from app_public.tasks", expect: { error: "permission denied" } },
  ...withoutPrivilege("app_public.tasks", "title", ["anonymous"], ["select", "insert", "update", "delete"]),
  { actor: "member of A", does: "lists tasks", sql: "select * from app_public.tasks", expect: { rows: 3, tenant: "A" } },
  { actor: "admin of B", does: "lists tasks", sql: "select * from app_public.tasks", expect: { rows: 3, tenant: "B" } },
  {
    actor: "member of A",
    does: "reads B's tasks by tenant id",
    sql: "select * from app_public.tasks where tenant_id = $1",
    params: (w) => [w.tenants.B.id],
    expect: { rows: 0 },
  },
  {
    actor: "member of A",
    does: "adds a task to A's project (it lands in A)",
    sql: "insert into app_public.tasks (project_id, title) values ($1, 'Test') returning tenant_id",
    params: (w) => [w.work.A.projectId],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "adds a task to A's project (it lands in A)",
    sql: "insert into app_public.tasks (project_id, title) values ($1, 'Test') returning tenant_id",
    params: (w) => [w.work.A.projectId],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "member of A",
    does: "adds a task to B's project, naming tenant B",
    sql: "insert into app_public.tasks (tenant_id, project_id, title) values ($1, $2, 'Planted')",
    params: (w) => [w.tenants.B.id, w.work.B.projectId],
    expect: { error: "RLS violation" },
  },
  { actor: "member of A", does: "renames every task it can", sql: "update app_public.tasks set title = 'Renamed'", expect: { affected: 3 } },
  { actor: "admin of A", does: "renames every task it can", sql: "update app_public.tasks set title = 'Renamed'", expect: { affected: 3 } },
  {
    actor: "member of A",
    does: "renames B's task by id",
    sql: "update app_public.tasks set title = 'Pwned' where id = $1",
    params: (w) => [w.work.B.assignedTaskId],
    expect: { affected: 0 },
  },
  { actor: "member of A", does: "deletes every task it can", sql: "delete from app_public.tasks", expect: { affected: 3 } },
  { actor: "admin of A", does: "deletes every task it can", sql: "delete from app_public.tasks", expect: { affected: 3 } },
  {
    actor: "admin of A",
    does: "deletes B's task by id",
    sql: "delete from app_public.tasks where id = $1",
    params: (w) => [w.work.B.assignedTaskId],
    expect: { affected: 0 },
  },
];
