// Exports: ask for a package in a format, watch it render, download it.

import { api, download } from "./api.js";
import { busy, bytes, errorBox, h, replace, showError, toast, when } from "./dom.js";

const FORMATS = { zip: "ZIP of Markdown", pdf: "PDF", docx: "Word (DOCX)", xlsx: "Excel (XLSX)", pptx: "PowerPoint (PPTX)" };

export function exportsPanel(panel, projectId) {
  const list = h("ul", { class: "exports", "aria-live": "polite" });
  const error = errorBox();
  const format = h("select", { id: "export-format" }, Object.entries(FORMATS).map(([value, label]) => h("option", { value }, label)));
  const request = h("button", { type: "button", class: "primary" }, "Request export");
  let timer = null;
  let closed = false;

  function row(item) {
    const rowError = errorBox();
    let action = null;
    if (item.status === "ready") {
      action = h("button", { type: "button" }, "Download");
      action.addEventListener("click", () =>
        busy(action, rowError, async () => {
          const name = await download(`/exports/${item.id}/download`, `export.${item.format}`);
          toast(`Downloaded ${name}`);
          refresh();
        }),
      );
    }
    return h(
      "li",
      { class: "export", "data-id": item.id },
      h("span", { class: "format" }, item.format.toUpperCase()),
      h("span", { class: `badge ${item.status}` }, item.status),
      h("span", { class: "hint" }, [when(item.created_at), item.bytes ? ` · ${bytes(item.bytes)}` : "", item.download_count ? ` · ${item.download_count} download(s)` : ""]),
      item.error ? h("span", { class: "error" }, item.error) : null,
      action,
      rowError,
    );
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const items = await api(`/projects/${projectId}/exports`);
      replace(list, items.length ? items.map(row) : h("li", { class: "empty" }, "No export yet."));
      if (!closed && items.some((e) => e.status === "pending" || e.status === "running")) timer = setTimeout(refresh, 1000);
    } catch (failure) {
      showError(error, failure);
    }
  }

  request.addEventListener("click", () =>
    busy(request, error, async () => {
      await api(`/projects/${projectId}/export`, { method: "POST", json: { format: format.value } });
      await refresh();
    }),
  );

  replace(
    panel,
    h("h2", { id: "exports-title" }, "Exports"),
    h("div", { class: "actions" }, h("label", { for: "export-format", class: "visually-hidden" }, "Format"), format, request),
    error,
    list,
  );
  refresh();
  return {
    refresh,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
