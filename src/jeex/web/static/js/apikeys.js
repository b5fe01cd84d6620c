// API keys: create one (its secret is shown once, here), list them, revoke one.
// A key acts with a role no higher than yours; the server enforces it (POST /api-keys).

import { api } from "./api.js";
import { busy, errorBox, h, replace, showError, toast, when } from "./dom.js";

const ROLES = ["owner", "admin", "editor", "viewer"];

function keyRow(key, refresh) {
  const revoke = h("button", { type: "button", class: "link danger" }, "Revoke");
  revoke.addEventListener("click", async () => {
    if (!window.confirm(`Revoke the key “${key.name || key.prefix}”? Scripts using it stop working at once.`)) return;
    try {
      await api(`/api-keys/${key.id}`, { method: "DELETE" });
      toast("Key revoked");
      refresh();
    } catch (failure) {
      toast(failure.message);
    }
  });
  return h(
    "tr",
    { "data-key": key.id },
    h("td", {}, key.name || "—"),
    h("td", {}, h("code", {}, `${key.prefix}…`)),
    h("td", {}, key.role),
    h("td", {}, key.created_by),
    h("td", {}, key.last_used_at ? when(key.last_used_at) : "never"),
    h("td", {}, key.revoked_at ? h("span", { class: "badge cancelled" }, "revoked") : revoke),
  );
}

export function apiKeysPanel(myRole) {
  const body = h("tbody");
  const error = errorBox();
  const shown = h("div", { class: "new-key", hidden: true });
  const allowed = ROLES.slice(Math.max(0, ROLES.indexOf(myRole)));
  const form = h(
    "form",
    { class: "row" },
    h("div", {}, h("label", { for: "key-name" }, "Name"), h("input", { id: "key-name", name: "name", maxlength: 200, placeholder: "CI pipeline" })),
    h("div", { class: "small" }, h("label", { for: "key-role" }, "Role"), h("select", { id: "key-role", name: "role" }, allowed.map((role) => h("option", { value: role }, role)))),
    h("div", { class: "small" }, h("button", { type: "submit", class: "primary" }, "Create key")),
  );

  async function refresh() {
    try {
      replace(body, (await api("/api-keys")).map((key) => keyRow(key, refresh)));
    } catch (failure) {
      showError(error, failure);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    busy(form.querySelector("button[type=submit]"), error, async () => {
      const created = await api("/api-keys", { method: "POST", json: data });
      replace(
        shown,
        h("label", { for: "new-key-value" }, "Your new key: copy it now, it is not shown again"),
        h("input", { id: "new-key-value", readonly: true, value: created.key, class: "mono" }),
      );
      shown.hidden = false;
      shown.querySelector("input").select();
      form.reset();
      refresh();
    });
  });

  refresh();
  return h(
    "section",
    { class: "card api-keys", "aria-labelledby": "keys-title" },
    h("h2", { id: "keys-title" }, "API keys"),
    h("p", { class: "hint" }, "For scripts: send Authorization: Bearer <key>."),
    form,
    shown,
    error,
    h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Key", "Role", "Owner", "Last used", ""].map((t) => h("th", { scope: "col" }, t)))), body),
  );
}
