// Tasks: one page at a time (cursor pagination), newest first; create a
// task (and a project to put it in), edit a task's title and status.
import { client } from "../client.ts";
import { CreateProject, CreateTask, Projects, Tasks, UpdateTask } from "../documents.ts";
import type { TaskStatus, TasksQuery, TasksQueryVariables } from "../gql/graphql.ts";
import { field, form, h, select, showError } from "../ui.ts";

export const PAGE_SIZE = 5;

/** Every status, with its label: the type makes this list follow the schema's enum. */
const STATUSES: Record<TaskStatus, string> = { TODO: "To do", IN_PROGRESS: "In progress", DONE: "Done" };
const statusOptions = Object.entries(STATUSES) as [TaskStatus, string][];

type Task = NonNullable<NonNullable<TasksQuery["tasks"]>["nodes"][number]>;

export function tasks(): HTMLElement {
  const list = h("ul", { "data-testid": "task-list" });
  const summary = h("p", { "data-testid": "task-summary" });
  const previous = h("button", { type: "button", "data-testid": "previous-page", disabled: true }, "← Previous");
  const next = h("button", { type: "button", "data-testid": "next-page", disabled: true }, "Next →");
  const projectPicker = h("span");
  // The page on screen: the variables that fetched it, and the item offset for the summary line.
  let page: TasksQueryVariables = { first: PAGE_SIZE };
  let offset = 0;
  let cursors = { start: null as string | null, end: null as string | null };

  async function load(variables: TasksQueryVariables, newOffset: number) {
    const result = await client.query(Tasks, variables);
    const connection = result.data?.tasks;
    if (!connection) return showError(result.error ?? "The tasks could not be read.");
    page = variables;
    offset = newOffset;
    cursors = { start: connection.pageInfo.startCursor ?? null, end: connection.pageInfo.endCursor ?? null };
    const nodes = connection.nodes.filter((t): t is Task => t !== null);
    list.replaceChildren(...nodes.map(row));
    summary.textContent = connection.totalCount === 0
      ? "No tasks yet."
      : `Tasks ${offset + 1}–${offset + nodes.length} of ${connection.totalCount}`;
    // The summary's offset decides both ends (a page read with `last/before` does not compute hasNextPage).
    previous.disabled = offset === 0;
    next.disabled = offset + nodes.length >= connection.totalCount;
  }
  const reload = () => load(page, offset);
  const firstPage = () => load({ first: PAGE_SIZE }, 0);
  previous.addEventListener("click", () => void load({ last: PAGE_SIZE, before: cursors.start }, Math.max(0, offset - PAGE_SIZE)));
  next.addEventListener("click", () => void load({ first: PAGE_SIZE, after: cursors.end }, offset + PAGE_SIZE));

  function row(task: Task): HTMLElement {
    const item = h("li", { "data-testid": "task" });
    const show = () =>
      item.replaceChildren(
        h("span", { class: "title", "data-testid": "task-title" }, task.title),
        h("span", { class: `status ${task.status}`, "data-testid": "task-status" }, STATUSES[task.status]),
        h("span", { class: "project" }, task.project?.name ?? ""),
        h("button", { type: "button", "data-testid": "edit-task", onclick: edit }, "Edit"),
      );
    function edit() {
      const editor = form(
        "edit-task-form",
        async (v) => {
          const result = await client.mutation(UpdateTask, { id: task.id, patch: { title: v.title, status: v.status as TaskStatus } });
          if (!result.data?.updateTask?.task) return showError(result.error ?? "The task could not be saved.");
          await reload();
        },
        field("Title", "title", { value: task.title }),
        select("Status", "status", statusOptions),
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", onclick: show }, "Cancel"),
      );
      editor.querySelector<HTMLSelectElement>("select")!.value = task.status;
      item.replaceChildren(editor);
    }
    show();
    return item;
  }

  async function loadProjects() {
    const result = await client.query(Projects, {});
    const projects = result.data?.projects?.nodes.filter((p) => p !== null) ?? [];
    projectPicker.replaceChildren(
      projects.length
        ? select("Project", "projectId", projects.map((p) => [p.rowId, p.name]))
        : h("em", { "data-testid": "no-project" }, "Create a project first."),
    );
  }

  const newTask = form(
    "new-task-form",
    async (v, element) => {
      if (!v.projectId) return showError("Create a project first.");
      const result = await client.mutation(CreateTask, { projectId: v.projectId, title: v.title, status: v.status as TaskStatus });
      if (!result.data?.createTask?.task) return showError(result.error ?? "The task could not be created.");
      element.querySelector<HTMLInputElement>("input[name=title]")!.value = "";
      await firstPage();
    },
    projectPicker,
    field("Title", "title"),
    select("Status", "status", statusOptions),
    h("button", { type: "submit" }, "Add task"),
  );

  const newProject = form(
    "new-project-form",
    async (v, element) => {
      const result = await client.mutation(CreateProject, { name: v.name });
      if (!result.data?.createProject?.project) return showError(result.error ?? "The project could not be created.");
      element.reset();
      await loadProjects();
    },
    field("New project", "name"),
    h("button", { type: "submit" }, "Add project"),
  );

  void loadProjects();
  void firstPage();
  return h(
    "section",
    { "data-testid": "tasks-screen" },
    h("h1", {}, "Tasks"),
    summary,
    list,
    h("nav", { class: "pager" }, previous, next),
    h("h2", {}, "Add a task"),
    newTask,
    newProject,
  );
}
