// The projects list (step, status, last activity) and the form that creates one.

import { api, session } from "./api.js";
import { apiKeysPanel } from "./apikeys.js";
import { auditPanel } from "./audit.js";
import { busy, errorBox, h, replace, when } from "./dom.js";
import { STEPS, stepNumbers } from "./steps.js";
import { teamPanel } from "./team.js";
import { usagePanel } from "./usage.js";

const LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "ja", "zh"];

function row(project) {
  const step = project.current_step ? `Step ${project.current_step} of ${stepNumbers().length} · ${STEPS[project.current_step].short}` : "Not started";
  return h(
    "li",
    { class: "project" },
    h("a", { href: `#/projects/${project.id}`, class: "project-name" }, project.name),
    h("span", { class: "idea" }, project.idea_description),
    h(
      "span",
      { class: "meta" },
      h("span", { class: "step" }, step),
      h("span", { class: `badge ${project.status}` }, project.status),
      h("time", { datetime: project.updated_at, title: new Date(project.updated_at).toLocaleString() }, when(project.updated_at)),
    ),
  );
}

function createForm(onCreated) {
  const error = errorBox();
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-title" },
    h("h2", { id: "new-title" }, "New project"),
    h("label", { for: "idea" }, "Idea"),
    h("textarea", { id: "idea", name: "idea_description", required: true, rows: 3, maxlength: 20000, placeholder: "A shared grocery list app for families" }),
    h("div", { class: "row" },
      h("div", {},
        h("label", { for: "name" }, "Name ", h("span", { class: "hint" }, "(from the idea if empty)")),
        h("input", { id: "name", name: "name", maxlength: 200 })),
      h("div", {},
        h("label", { for: "audience" }, "Audience"),
        h("input", { id: "audience", name: "target_audience", maxlength: 2000, placeholder: "busy parents" })),
      h("div", { class: "small" },
        h("label", { for: "language" }, "Language"),
        h("input", { id: "language", name: "language", value: "en", list: "languages", maxlength: 10, required: true }),
        h("datalist", { id: "languages" }, LANGUAGES.map((code) => h("option", { value: code })))),
    ),
    error,
    h("button", { type: "submit", class: "primary" }, "Create project"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    data.name = data.name.trim() || data.idea_description.trim().split(/\s+/).slice(0, 6).join(" ").slice(0, 200);
    busy(form.querySelector("button[type=submit]"), error, async () => {
      const project = await api("/projects", { method: "POST", json: data });
      onCreated(project);
    });
  });
  return form;
}

export async function projectsPage(main) {
  const list = h("ul", { class: "projects", "aria-live": "polite" });
  const error = errorBox();
  replace(
    main,
    h("h1", {}, "Projects"),
    createForm((project) => {
      location.hash = `#/projects/${project.id}`;
    }),
    h("section", { "aria-labelledby": "list-title" }, h("h2", { id: "list-title" }, "Your projects"), error, list),
    usagePanel(),
    apiKeysPanel(session.get()?.role || "viewer"),
    teamPanel(),
    ["owner", "admin"].includes(session.get()?.role) ? auditPanel() : null,
  );
  try {
    const page = await api("/projects?limit=100");
    replace(list, page.items.length ? page.items.map(row) : h("li", { class: "empty" }, "No project yet: describe an idea above."));
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  }
}
