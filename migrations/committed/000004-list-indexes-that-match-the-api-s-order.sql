--! Previous: sha1:401bd4343f883f7198015d5a21b3bd17910f25ec
--! Hash: sha1:e8c8220bb643e522297bd0ffae03063692dbab69
--! Message: list indexes that match the API's order

/*
 * PostGraphile orders a connection by the requested column and then by the
 * primary key (`order by created_at desc, tenant_id desc, id desc`). An index
 * on (tenant_id, created_at desc) cannot deliver that order, so a list read
 * every row of the tenant and sorted them to keep 20 (the benchmark showed
 * the cost grow with the tenant's size). These indexes end with the key, so
 * the newest 20 come straight off the index.
 */

drop index if exists app_public.tasks_tenant_created_idx;
drop index if exists app_public.tasks_tenant_project_idx;
drop index if exists app_public.projects_tenant_created_idx;
drop index if exists app_public.comments_tenant_task_idx;

create index tasks_tenant_created_idx on app_public.tasks (tenant_id, created_at desc, id desc);
create index tasks_tenant_project_idx on app_public.tasks (tenant_id, project_id, created_at desc, id desc);
create index projects_tenant_created_idx on app_public.projects (tenant_id, created_at desc, id desc);
create index comments_tenant_task_idx on app_public.comments (tenant_id, task_id, created_at, id);
