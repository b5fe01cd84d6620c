// Exhibits: drop files (or pick them), watch each upload's progress, then its
// extraction status until ready or failed; see which sections cite each one.

import { api, upload } from "./api.js";
import { busy, bytes, errorBox, h, replace, showError } from "./dom.js";

export function exhibitsPanel(panel, projectId) {
  const list = h("ul", { class: "exhibits", "aria-live": "polite" });
  const uploads = h("ul", { class: "uploads" });
  const error = errorBox();
  const input = h("input", { type: "file", id: "exhibit-file", multiple: true, class: "visually-hidden" });
  const zone = h(
    "div",
    { class: "dropzone", tabindex: 0, role: "button", "aria-describedby": "drop-hint" },
    h("label", { for: "exhibit-file", class: "link" }, "Choose files"),
    h("span", { id: "drop-hint" }, " or drop them here (PDF, DOCX, Markdown, text, HTML, CSV …)"),
  );
  let timer = null;
  let closed = false;

  function cited(exhibit) {
    if (!exhibit.cited_by?.length) return null;
    return h("span", { class: "cited" }, "cited in ", exhibit.cited_by.map((c, i) => [i ? ", " : "", `step ${c.step} · ${c.section_title || c.section_key}`]));
  }

  // Where indexing stands: passages embedded so far, or the estimate before it starts.
  function indexing(exhibit) {
    if (exhibit.passages > 0) return `indexing: ${exhibit.passages_indexed} of ${exhibit.passages} passages`;
    const minutes = Math.ceil(exhibit.estimated_seconds / 60);
    return `about ${exhibit.estimated_passages} passages, ${minutes < 2 ? "a minute" : `${minutes} minutes`} to index`;
  }

  function row(exhibit) {
    const remove = h("button", { type: "button", class: "link danger", "aria-label": `Delete ${exhibit.filename}` }, "Delete");
    const rowError = errorBox();
    remove.addEventListener("click", () =>
      busy(remove, rowError, async () => {
        await api(`/projects/${projectId}/exhibits/${exhibit.id}`, { method: "DELETE" });
        await refresh();
      }),
    );
    return h(
      "li",
      { class: "exhibit", "data-id": exhibit.id },
      h("span", { class: "label" }, exhibit.label),
      h("span", { class: "filename" }, exhibit.filename),
      h("span", { class: "hint" }, `${exhibit.media_type} · ${bytes(exhibit.size)}`),
      h("span", { class: `badge ${exhibit.status}` }, exhibit.partially_indexed ? "partially indexed" : exhibit.status),
      exhibit.status === "pending" ? h("span", { class: "hint progress" }, indexing(exhibit)) : null,
      exhibit.error ? h("span", { class: exhibit.status === "ready" ? "hint" : "error" }, exhibit.error) : null,
      cited(exhibit),
      remove,
      rowError,
    );
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const exhibits = await api(`/projects/${projectId}/exhibits`);
      replace(list, exhibits.length ? exhibits.map(row) : h("li", { class: "empty" }, "No exhibit yet."));
      showError(error, null);
      if (!closed && exhibits.some((e) => e.status === "pending")) timer = setTimeout(refresh, 1000);
    } catch (failure) {
      showError(error, failure);
    }
  }

  async function send(file) {
    const bar = h("progress", { max: 1, value: 0, "aria-label": `Uploading ${file.name}` });
    const note = h("span", { class: "hint" }, "uploading…");
    const item = h("li", {}, h("span", { class: "filename" }, file.name), bar, note);
    uploads.append(item);
    try {
      await upload(`/projects/${projectId}/exhibits`, file, (share) => {
        bar.value = share;
      });
      item.remove();
    } catch (failure) {
      bar.remove();
      note.className = "error";
      note.setAttribute("role", "alert");
      note.textContent = failure.message;
    }
    await refresh();
  }

  function sendAll(files) {
    for (const file of files) send(file);
  }

  input.addEventListener("change", () => {
    sendAll([...input.files]);
    input.value = "";
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.click();
    }
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    sendAll([...event.dataTransfer.files]);
  });

  replace(panel, h("h2", { id: "exhibits-title" }, "Exhibits"), zone, input, uploads, error, list);
  refresh();
  return {
    refresh,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
