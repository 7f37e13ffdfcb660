// Small DOM helpers: elements, forms and the error line. No framework.
import type { CombinedError } from "@urql/core";
import { errorCode } from "./client.ts";

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | ((event: Event) => void)> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false) element.setAttribute(name, value);
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

/** A labelled input; `name` is also its test id. */
export function field(label: string, name: string, attrs: Record<string, string | boolean> = {}): HTMLElement {
  return h("label", {}, label, h("input", { name, "data-testid": name, required: true, ...attrs }));
}

export function select(label: string, name: string, options: [value: string, text: string][]): HTMLElement {
  return h("label", {}, label, h("select", { name, "data-testid": name }, ...options.map(([value, text]) => h("option", { value }, text))));
}

/** The form's values by input name. */
export function values(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v)]));
}

/** The page's one error line (role=alert): a stable code and the API's message. */
export function showError(error: CombinedError | string | undefined): void {
  const line = document.querySelector<HTMLElement>("#error")!;
  if (!error) {
    line.textContent = "";
    line.hidden = true;
    return;
  }
  line.hidden = false;
  if (typeof error === "string") line.textContent = error;
  else if (error.networkError) line.textContent = "The API cannot be reached. Try again.";
  else line.textContent = `${errorCode(error) ?? "ERROR"}: ${error.graphQLErrors[0]?.message ?? error.message}`;
}

/** A form whose submit handler gets the values; the button is disabled while it runs. */
export function form(testId: string, onSubmit: (v: Record<string, string>, form: HTMLFormElement) => Promise<void>, ...children: Child[]): HTMLFormElement {
  const element = h("form", { "data-testid": testId }, ...children);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = element.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      showError(undefined);
      await onSubmit(values(element), element);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return element;
}
