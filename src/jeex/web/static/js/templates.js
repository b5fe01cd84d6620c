// #/templates: every document kind this tenant can write (built-in and its own), and for
// owners and admins the tenant's own templates as YAML: upload, edit (each save is a new
// version), retire. An invalid template comes back with its problems by line and field
// (GET /templates/schema is the contract); the server enforces who may do what.

import { api, session } from "./api.js";
import { busy, errorBox, h, replace, showError, toast, when } from "./dom.js";

const MANAGERS = ["owner", "admin"];

function kindRow(kind) {
  const source = kind.source === "tenant" ? `Tenant · version ${kind.revision}` : "Built-in";
  return h(
    "tr",
    { "data-kind": kind.key },
    h("td", {}, kind.label),
    h("td", {}, h("code", {}, kind.key)),
    h("td", {}, source),
    h("td", {}, kind.step ? `Plan step ${kind.step} · ${kind.output}` : kind.output),
  );
}

function problemList(failure) {
  const problems = failure?.body?.problems || [];
  if (!problems.length) return null;
  return h(
    "ul",
    { class: "problems", "aria-label": "Problems in the template" },
    problems.map((p) =>
      h("li", { "data-line": p.line ?? "" }, p.line ? `Line ${p.line}` : "", p.field ? h("code", {}, ` ${p.field}`) : "", `: ${p.message}`),
    ),
  );
}

// The YAML editor: a new template, or the next version of `editing` (its key fixed).
function editor(onSaved) {
  const error = errorBox();
  const problems = h("div", { class: "template-problems" });
  const title = h("h2", { id: "template-editor-title" }, "Upload a template");
  const source = h("textarea", { id: "template-source", rows: 18, spellcheck: false, required: true, "aria-describedby": "template-hint", placeholder: "key: grant_letter\ndocument_type: grant_letter\ntitle: Grant letter for {project}\n…" });
  const file = h("input", { type: "file", id: "template-file", accept: ".yaml,.yml,text/yaml,text/plain" });
  const save = h("button", { type: "submit", class: "primary" }, "Upload");
  const cancel = h("button", { type: "button", class: "link", hidden: true }, "Cancel edit");
  let editing = null;

  function reset(template = null) {
    editing = template;
    title.textContent = template ? `Edit ${template.key} (saves version ${template.version + 1})` : "Upload a template";
    save.textContent = template ? "Save new version" : "Upload";
    cancel.hidden = !template;
    source.value = template ? template.source : "";
    replace(problems);
    showError(error, null);
  }

  file.addEventListener("change", async () => {
    if (file.files[0]) source.value = await file.files[0].text();
  });
  cancel.addEventListener("click", () => reset());
  const form = h(
    "form",
    { class: "card template-editor", "aria-labelledby": "template-editor-title" },
    title,
    h("p", { class: "hint", id: "template-hint" }, "A template is YAML: key, document_type, title, description, a kind block (label, output, inputs) and its sections. Each save keeps the earlier versions."),
    h("label", { for: "template-file" }, "From a file ", h("span", { class: "hint" }, "(or paste below)")),
    file,
    h("label", { for: "template-source" }, "YAML"),
    source,
    error,
    problems,
    h("p", {}, save, " ", cancel),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    replace(problems);
    busy(save, error, async () => {
      try {
        const path = editing ? `/templates/${editing.key}` : "/templates";
        const saved = await api(path, { method: editing ? "PUT" : "POST", json: { source: source.value } });
        toast(`${saved.key}: version ${saved.version} saved`);
        reset();
        onSaved();
      } catch (failure) {
        replace(problems, problemList(failure));
        throw failure;
      }
    });
  });
  return { form, edit: reset };
}

function templateRow(template, manager, { onEdit, onChanged }) {
  const actions = [];
  const versions = h("td", {}, `v${template.version}`);
  if (manager && !template.retired) {
    const edit = h("button", { type: "button", class: "link" }, "Edit");
    edit.addEventListener("click", async () => {
      try {
        onEdit(await api(`/templates/${template.key}`));
      } catch (failure) {
        toast(failure.message);
      }
    });
    const retire = h("button", { type: "button", class: "link danger" }, "Retire");
    retire.addEventListener("click", async () => {
      if (!window.confirm(`Retire ${template.key}? New documents can no longer use it; its versions stay readable.`)) return;
      try {
        await api(`/templates/${template.key}/retire`, { method: "POST" });
        toast(`${template.key} retired`);
        onChanged();
      } catch (failure) {
        toast(failure.message);
      }
    });
    actions.push(edit, " ", retire);
  }
  const history = h("button", { type: "button", class: "link" }, "Versions");
  history.addEventListener("click", async () => {
    try {
      const all = await api(`/templates/${template.key}/versions`);
      replace(versions, all.map((v) => h("div", {}, `v${v.version} · ${when(v.created_at)} · `, h("code", {}, v.fingerprint))));
    } catch (failure) {
      toast(failure.message);
    }
  });
  actions.push(" ", history);
  return h(
    "tr",
    { "data-template": template.key, "data-retired": template.retired ? "true" : "false" },
    h("td", {}, template.label),
    h("td", {}, h("code", {}, template.key)),
    versions,
    h("td", {}, template.retired ? h("span", { class: "badge cancelled" }, "retired") : h("span", { class: "badge completed" }, "live")),
    h("td", {}, when(template.created_at)),
    h("td", {}, actions),
  );
}

export async function templatesPage(main) {
  const manager = MANAGERS.includes(session.get()?.role);
  const kinds = h("tbody");
  const mine = h("tbody");
  const error = errorBox();
  const { form, edit } = editor(() => load());

  async function load() {
    try {
      const [allKinds, templates] = await Promise.all([api("/kinds"), api("/templates")]);
      replace(kinds, allKinds.map(kindRow));
      const rows = templates.map((t) => templateRow(t, manager, { onEdit: (full) => { edit(full); form.scrollIntoView(); }, onChanged: load }));
      replace(mine, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No template of this tenant yet.")));
    } catch (failure) {
      showError(error, failure);
    }
  }

  const head = (titles) => h("thead", {}, h("tr", {}, titles.map((t) => h("th", { scope: "col" }, t))));
  replace(
    main,
    h("h1", {}, "Document templates"),
    error,
    h("section", { class: "card templates", "aria-labelledby": "kinds-title" },
      h("h2", { id: "kinds-title" }, "Kinds you can write"),
      h("table", {}, head(["Kind", "Key", "Source", "Writes"]), kinds)),
    h("section", { class: "card templates", "aria-labelledby": "tenant-templates-title" },
      h("h2", { id: "tenant-templates-title" }, "This tenant's templates"),
      h("table", {}, head(["Kind", "Key", "Version", "State", "Uploaded", ""]), mine)),
    manager ? form : h("p", { class: "hint" }, "Owners and admins upload and edit templates."),
  );
  await load();
}
