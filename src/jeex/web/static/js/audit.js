// The tenant's security log (GET /audit-events), for owners and admins: sign-ins and
// their failures, invitations, role changes, API keys and quota refusals, newest first.

import { api } from "./api.js";
import { errorBox, h, replace, showError, when } from "./dom.js";

const PAGE = 25;

function describe(event) {
  const detail = event.detail || {};
  const parts = Object.entries(detail).map(([k, v]) => `${k}: ${v}`);
  return parts.join(" · ");
}

export function auditPanel() {
  const body = h("tbody");
  const error = errorBox();
  const more = h("button", { type: "button", class: "link" }, "Older entries");
  let offset = 0;

  async function load(reset) {
    if (reset) offset = 0;
    try {
      const page = await api(`/audit-events?limit=${PAGE}&offset=${offset}`);
      const rows = page.map((event) =>
        h(
          "tr",
          { "data-action": event.action },
          h("td", {}, when(event.created_at)),
          h("td", {}, h("code", {}, event.action)),
          h("td", {}, event.actor_email || "—"),
          h("td", {}, event.target || "—"),
          h("td", {}, describe(event)),
          h("td", {}, event.address || "—"),
        ),
      );
      if (reset) replace(body, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "Nothing yet.")));
      else body.append(...rows);
      offset += page.length;
      more.hidden = page.length < PAGE;
    } catch (failure) {
      showError(error, failure);
    }
  }

  more.addEventListener("click", () => load(false));
  load(true);
  return h(
    "section",
    { class: "card audit", "aria-labelledby": "audit-title" },
    h("h2", { id: "audit-title" }, "Security log"),
    error,
    h("table", {}, h("thead", {}, h("tr", {}, ["When", "What", "Who", "On", "Details", "From"].map((t) => h("th", { scope: "col" }, t)))), body),
    more,
  );
}
