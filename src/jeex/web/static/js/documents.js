// The document monitor: documents of any kind (a petition, a letter, a memo, a tenant's
// template). #/documents lists them and starts one from its kind's input fields;
// #/documents/<id> uploads exhibits under the ids the user chooses, starts, pauses,
// resumes and cancels the writing, shows each section as it is written (live, from the
// event stream) and downloads the finished document as a PDF.

import { api, download, upload } from "./api.js";
import { busy, bytes, duration, errorBox, h, replace, sanitised, toast, when } from "./dom.js";
import { follow } from "./stream.js";

const STATUS_TEXT = {
  idle: "Not being written",
  generating: "Being written",
  paused: "Paused",
  completed: "Completed",
  error: "Failed",
};

function documentKinds(kinds) {
  return kinds.filter((kind) => kind.step === null);
}

function inputControl(field) {
  const id = `input-${field.key}`;
  const attrs = { id, name: field.key, maxlength: field.max_chars, required: field.required || null };
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, field.label, field.required ? "" : h("span", { class: "hint" }, " (optional)")),
    field.multiline ? h("textarea", { ...attrs, rows: 4 }) : h("input", attrs),
    field.help ? h("p", { class: "hint" }, field.help) : null,
  );
}

function createForm(kinds) {
  const error = errorBox();
  const inputs = h("div", { class: "inputs" });
  const select = h(
    "select",
    { id: "doc-kind", name: "kind", required: true },
    kinds.map((kind) => h("option", { value: kind.key }, kind.source === "tenant" ? `${kind.label} (your template)` : kind.label)),
  );
  const describe = h("p", { class: "hint", id: "doc-kind-about" });
  function drawInputs() {
    const kind = kinds.find((k) => k.key === select.value);
    describe.textContent = kind ? kind.description : "";
    replace(inputs, kind ? kind.inputs.map(inputControl) : []);
  }
  select.addEventListener("change", drawInputs);
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-doc-title" },
    h("h2", { id: "new-doc-title" }, "New document"),
    h("label", { for: "doc-kind" }, "Kind"),
    select,
    describe,
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "doc-title" }, "Title"), h("input", { id: "doc-title", name: "title", required: true, maxlength: 200 })),
      h("div", {}, h("label", { for: "doc-case" }, "Case reference ", h("span", { class: "hint" }, "(optional)")), h("input", { id: "doc-case", name: "case_ref", maxlength: 120 }))),
    inputs,
    h("p", { class: "hint" }, "The document is created idle: upload its exhibits, then start writing."),
    error,
    h("button", { type: "submit", class: "primary" }, "Create document"),
  );
  drawInputs();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const kind = kinds.find((k) => k.key === select.value);
    const values = Object.fromEntries(new FormData(form));
    const body = { kind: kind.key, title: values.title, generate: false, inputs: {} };
    if (values.case_ref.trim()) body.case_ref = values.case_ref.trim();
    for (const field of kind.inputs) if ((values[field.key] || "").trim()) body.inputs[field.key] = values[field.key];
    busy(form.querySelector("button[type=submit]"), error, async () => {
      const created = await api("/documents", { method: "POST", json: body });
      location.hash = `#/documents/${created.id}`;
    });
  });
  return form;
}

export async function documentsPage(main) {
  const list = h("ul", { class: "projects documents", "aria-live": "polite" });
  const error = errorBox();
  const formSlot = h("div");
  replace(main, h("h1", {}, "Documents"), formSlot, h("section", { "aria-labelledby": "docs-title" }, h("h2", { id: "docs-title" }, "Your documents"), error, list));
  try {
    const [kinds, documents] = await Promise.all([api("/kinds"), api("/documents")]);
    replace(formSlot, createForm(documentKinds(kinds)));
    replace(
      list,
      documents.length
        ? documents.map((doc) =>
            h("li", { class: "project" },
              h("a", { href: `#/documents/${doc.id}`, class: "project-name" }, doc.title),
              h("span", { class: "meta" },
                h("span", {}, doc.kind),
                doc.case_ref ? h("span", {}, doc.case_ref) : null,
                h("span", { class: `badge ${doc.status}` }, STATUS_TEXT[doc.status] || doc.status),
                h("time", { datetime: doc.updated_at }, when(doc.updated_at)))))
        : h("li", { class: "empty" }, "No document yet: choose a kind above."),
    );
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  }
}

function exhibitsPanel(base, preview, refresh) {
  const error = errorBox();
  const file = h("input", { type: "file", id: "exhibit-file", required: true, accept: ".pdf,.docx,.html,.htm,.md,.txt" });
  const label = h("input", { id: "exhibit-id", name: "exhibit_id", maxlength: 40, placeholder: "1.1.A" });
  const progress = h("progress", { max: 1, value: 0, hidden: true });
  const form = h(
    "form",
    { class: "uploads" },
    h("div", { class: "row" },
      h("div", { class: "small" }, h("label", { for: "exhibit-id" }, "Exhibit id"), label),
      h("div", {}, h("label", { for: "exhibit-file" }, "File"), file)),
    progress,
    error,
    h("button", { type: "submit" }, "Upload exhibit"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    progress.hidden = false;
    busy(form.querySelector("button"), error, async () => {
      const added = await upload(`${base}/exhibits`, file.files[0], (share) => { progress.value = share; }, { exhibit_id: label.value.trim() });
      toast(`Exhibit ${added.label} uploaded`);
      form.reset();
      await refresh();
    }).finally(() => { progress.hidden = true; });
  });
  const rows = preview.exhibits.map((exhibit) =>
    h("li", { class: "exhibit" },
      h("strong", { class: "exhibit-id" }, exhibit.exhibit_id), " ",
      exhibit.filename, " ",
      h("span", { class: "hint" }, `${bytes(exhibit.file_size)} · ${exhibit.status}`), " ",
      h("button", { type: "button", class: "link", onclick: () => download(exhibit.download_url.replace(/^\/api\/v1/, ""), exhibit.filename) }, "Download")));
  return h(
    "section",
    { class: "card exhibits", "aria-labelledby": "doc-exhibits-title" },
    h("h2", { id: "doc-exhibits-title" }, "Exhibits"),
    h("p", { class: "hint" }, "Sections cite an exhibit by its id, like [1.1.A §1]. Ids never change when another exhibit is deleted."),
    h("ul", { class: "exhibit-list" }, rows.length ? rows : h("li", { class: "empty" }, "No exhibit yet.")),
    form,
  );
}

function controls(base, preview, refresh) {
  const error = errorBox();
  const status = preview.status;
  const act = (path, message) => async (event) => {
    await busy(event.target, error, async () => {
      await api(`${base}/${path}`, { method: "POST" });
      toast(message);
      await refresh();
    });
  };
  const buttons = [
    ["idle", "completed", "error"].includes(status)
      ? h("button", { type: "button", class: "primary", id: "doc-generate", onclick: act("generate", "Writing started") }, status === "idle" ? "Start writing" : "Write again")
      : null,
    status === "generating" ? h("button", { type: "button", id: "doc-pause", onclick: act("pause", "Pausing after the current section") }, "Pause") : null,
    status === "paused" ? h("button", { type: "button", class: "primary", id: "doc-resume", onclick: act("resume", "Resumed") }, "Resume") : null,
    ["generating", "paused"].includes(status) ? h("button", { type: "button", id: "doc-cancel", onclick: act("cancel", "Cancelled") }, "Cancel") : null,
    status === "completed"
      ? h("button", { type: "button", id: "doc-pdf", onclick: (event) => busy(event.target, error, () => download(`${base}/pdf`, "document.pdf")) }, "Download PDF")
      : null,
  ];
  return h("div", { class: "actions" }, buttons, error);
}

export async function documentPage(main, id) {
  const base = `/documents/${id}`;
  let stream = null;
  let timer = null;
  let shown = null;
  async function refresh() {
    let preview;
    try {
      preview = await api(`${base}/preview`);
    } catch (failure) {
      replace(main, h("h1", {}, "Document"), h("p", { role: "alert", class: "error" }, failure.message), h("p", {}, h("a", { href: "#/documents" }, "Back to the documents")));
      return;
    }
    draw(preview);
    if (!stream) {
      stream = follow(id, preview.last_seq, {
        onEvent: () => {
          clearTimeout(timer);
          timer = setTimeout(refresh, 250); // a burst of deltas is one redraw
        },
        onState: (state) => {
          const live = document.getElementById("doc-live");
          const said = { live: "Live", revoked: "Stopped: sign in again" }[state];
          if (live) live.textContent = said ?? "Reconnecting…";
        },
      });
    }
  }
  function draw(preview) {
    const meta = preview.metadata;
    const focused = document.activeElement?.id;
    const keepForm = shown && document.getElementById("exhibit-file")?.files?.length;
    if (keepForm) return; // never redraw under a file being chosen
    shown = preview;
    replace(
      main,
      h("p", { class: "crumbs" }, h("a", { href: "#/documents" }, "Documents"), " › ", preview.title),
      h("div", { class: "project-head" },
        h("h1", {}, preview.title),
        h("span", { class: `badge ${preview.status}`, id: "doc-status" }, STATUS_TEXT[preview.status] || preview.status),
        h("span", { class: "live-state", id: "doc-live" }, "")),
      h("p", { class: "meta" }, `${preview.kind}${preview.case_ref ? ` · ${preview.case_ref}` : ""}`),
      controls(base, preview, refresh),
      h("div", { class: "stats" },
        h("progress", { max: 100, value: meta.progress_percentage, "aria-label": "Progress" }),
        h("span", { id: "doc-progress" }, `${meta.completed_sections} of ${meta.total_sections} · ${meta.progress_percentage}%`),
        h("span", {}, `elapsed ${duration(meta.elapsed_time)}`),
        h("span", {}, `remaining ${duration(meta.estimated_remaining)}`),
        h("span", {}, `${meta.total_tokens} tokens`)),
      exhibitsPanel(base, preview, refresh),
      h("section", { class: "sections", "aria-labelledby": "doc-sections-title" },
        h("h2", { id: "doc-sections-title" }, "Sections"),
        preview.sections.map((section) =>
          h("article", { class: `section ${section.status}`, "data-section": section.section_id },
            h("div", { class: "section-head" }, h("h3", { class: "section-title" }, section.section_name), h("span", { class: `badge ${section.status}` }, section.status)),
            section.content_html ? sanitised(section.content_html) : h("p", { class: "hint" }, section.status === "pending" ? "Not written yet." : "Writing…")))),
      h("section", { class: "log", "aria-labelledby": "doc-log-title" },
        h("h2", { id: "doc-log-title" }, "Log"),
        h("ol", {}, preview.logs.map((line) => h("li", { class: line.level }, h("time", { datetime: line.timestamp }, new Date(line.timestamp).toLocaleTimeString()), " ", line.message)))),
    );
    if (focused) document.getElementById(focused)?.focus();
  }
  await refresh();
  return () => {
    clearTimeout(timer);
    stream?.close();
  };
}
