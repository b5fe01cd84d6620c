// The tenant's use against each quota (GET /usage): tokens and cost this day and month,
// runs at once, exhibit storage; a meter per limited quota, "no limit" otherwise.

import { api } from "./api.js";
import { bytes, errorBox, h, replace } from "./dom.js";

function amount(row, value) {
  if (value === null) return "no limit";
  if (row.quota === "exhibit_bytes") return bytes(value);
  if (row.quota.startsWith("cost")) return value.toFixed(2);
  return value.toLocaleString();
}

function line(row) {
  const limited = row.limit !== null;
  return h(
    "tr",
    { "data-quota": row.quota },
    h("th", { scope: "row" }, row.label),
    h("td", {}, amount(row, row.used)),
    h("td", {}, amount(row, row.limit)),
    h(
      "td",
      {},
      limited
        ? h("meter", { min: 0, max: row.limit || 1, value: Math.min(row.used, row.limit), high: row.limit * 0.8, optimum: 0, title: `${amount(row, row.remaining)} left` })
        : "—",
    ),
  );
}

export function usagePanel() {
  const body = h("tbody");
  const error = errorBox();
  const renews = h("p", { class: "hint" });
  const panel = h(
    "section",
    { class: "card usage", "aria-labelledby": "usage-title" },
    h("h2", { id: "usage-title" }, "Usage"),
    error,
    h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Quota"), h("th", { scope: "col" }, "Used"), h("th", { scope: "col" }, "Limit"), h("th", { scope: "col" }, ""))), body),
    renews,
  );
  api("/usage")
    .then((usage) => {
      replace(body, usage.quotas.map(line));
      renews.textContent = `Daily quotas renew ${new Date(usage.day_renews).toLocaleString()}, monthly ones ${new Date(usage.month_renews).toLocaleDateString()}.`;
    })
    .catch((failure) => {
      error.textContent = failure.message;
      error.hidden = false;
    });
  return panel;
}
