// app_public.comments: everyone in a tenant reads its comments; a user
// comments as itself and edits and deletes its own; an admin also deletes
// anyone's; anonymous has no access; operators (acting in a tenant) only read.
import type { PolicyCase } from "../helpers/policy.ts";
import { operatorReads, withoutPrivilege } from "./shared.ts";

export const cases: PolicyCase[] = [
  { actor: "operator acting in A", does: "lists comments", sql: "select * from app_public.comments", expect: { rows: 1, tenant: "A" } },
  ...operatorReads("comments"),
  {
    actor: "operator acting in A",
    does: "comments on A's task",
    sql: "insert into app_public.comments (task_id, body) values ($1, 'Hi')",
    params: (w) => [w.work.A.assignedTaskId],
    expect: { error: "permission denied" },
  },
  { actor: "operator acting in A", does: "edits A's comments", sql: "update app_public.comments set body = 'x'", expect: { error: "permission denied" } },
  { actor: "operator acting in A", does: "deletes A's comments", sql: "delete from app_public.comments", expect: { error: "permission denied" } },
  ...withoutPrivilege("app_public.comments", "body", ["anonymous"], ["select", "insert", "update", "delete"]),
  { actor: "member of A", does: "lists comments", sql: "select * from app_public.comments", expect: { rows: 1, tenant: "A" } },
  { actor: "admin of A", does: "lists comments", sql: "select * from app_public.comments", expect: { rows: 1, tenant: "A" } },
  {
    actor: "member of A",
    does: "reads B's comment by id",
    sql: "select * from app_public.comments where id = $1",
    params: (w) => [w.work.B.commentId],
    expect: { rows: 0 },
  },
  {
    actor: "member of A",
    does: "comments on A's task (as itself, in A)",
    sql: "insert into app_public.comments (task_id, body) values ($1, 'Hi') returning tenant_id",
    params: (w) => [w.work.A.assignedTaskId],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "comments on A's task (as itself, in A)",
    sql: "insert into app_public.comments (task_id, body) values ($1, 'Hi') returning tenant_id",
    params: (w) => [w.work.A.assignedTaskId],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "comments on A's task in A's member's name",
    sql: "insert into app_public.comments (task_id, body, author_id) values ($1, 'Forged', $2)",
    params: (w) => [w.work.A.assignedTaskId, w.memberA.id],
    expect: { error: "RLS violation" },
  },
  { actor: "member of A", does: "edits every comment it can (its own)", sql: "update app_public.comments set body = 'Edited'", expect: { affected: 1 } },
  { actor: "admin of A", does: "edits every comment it can (none is its own)", sql: "update app_public.comments set body = 'Edited'", expect: { affected: 0 } },
  { actor: "member of A", does: "deletes every comment it can (its own)", sql: "delete from app_public.comments", expect: { affected: 1 } },
  { actor: "admin of A", does: "deletes A's member's comment", sql: "delete from app_public.comments", expect: { affected: 1 } },
  {
    actor: "admin of A",
    does: "deletes B's comment by id",
    sql: "delete from app_public.comments where id = $1",
    params: (w) => [w.work.B.commentId],
    expect: { affected: 0 },
  },
  { actor: "anonymous", does: "lists comments", sql: "select * from app_public.comments", expect: { error: "permission denied" } },
  { actor: "member of B", does: "lists comments", sql: "select * from app_public.comments", expect: { rows: 1, tenant: "B" } },
  {
    actor: "admin of A",
    does: "comments on A's task as itself",
    sql: "insert into app_public.comments (task_id, body) values ($1, 'Hi') returning tenant_id, author_id",
    params: (w) => [w.work.A.assignedTaskId],
    expect: { rows: 1, tenant: "A" },
  },
  {
    actor: "admin of A",
    does: "comments in the name of A's member",
    sql: "insert into app_public.comments (task_id, author_id, body) values ($1, $2, 'Forged')",
    params: (w) => [w.work.A.assignedTaskId, w.memberA.id],
    expect: { error: "RLS violation" },
  },
  {
    actor: "member of A",
    does: "comments on B's task",
    sql: "insert into app_public.comments (task_id, body) values ($1, 'Hi')",
    params: (w) => [w.work.B.assignedTaskId],
    expect: { error: "23503" },
  },
  { actor: "member of B", does: "deletes comments", sql: "delete from app_public.comments", expect: { affected: 1 } },
  {
    actor: "member of B",
    does: "deletes A's comment by id",
    sql: "delete from app_public.comments where id = $1",
    params: (w) => [w.work.A.commentId],
    expect: { affected: 0 },
  },
  {
    actor: "member of A",
    does: "re-attributes its comment to the admin",
    sql: "update app_public.comments set author_id = $1",
    params: (w) => [w.adminA.id],
    expect: { error: "IMMUT" },
  },
];
