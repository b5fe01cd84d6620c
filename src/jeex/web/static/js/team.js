// The team of this tenant: members and their roles, invitations (the link is shown once,
// to hand over), leaving; and the tenants I belong to, a new one, switching between them.
// Owners and admins manage members; the server enforces who may do what (roles.py).

import { api, session } from "./api.js";
import { busy, errorBox, h, replace, showError, toast, when } from "./dom.js";

const ROLES = ["owner", "admin", "editor", "viewer"];
const MANAGERS = ["owner", "admin"];

// The roles `me` may hand out: its own and those below it.
function grantable(me) {
  return ROLES.slice(Math.max(0, ROLES.indexOf(me)));
}

export async function useToken(token) {
  session.set({ ...session.get(), token: token.access_token, expires_at: Date.now() + token.expires_in * 1000 });
  const me = await api("/auth/me");
  session.set({ ...session.get(), email: me.email, tenant: me.tenant_slug, role: me.role, user_id: me.user_id });
}

function memberRow(member, me, refresh) {
  const manager = MANAGERS.includes(me.role);
  const mine = member.user_id === me.user_id;
  const mayChange = manager && ROLES.indexOf(member.role) >= ROLES.indexOf(me.role);
  let role = h("span", {}, member.role);
  if (mayChange) {
    role = h("select", { "aria-label": `Role of ${member.email}` }, grantable(me.role).map((r) => h("option", { value: r, selected: r === member.role }, r)));
    role.addEventListener("change", async () => {
      try {
        await api(`/members/${member.user_id}`, { method: "PATCH", json: { role: role.value } });
        toast(`${member.email} is now ${role.value}`);
        if (mine) {
          session.set({ ...session.get(), role: (await api("/auth/me")).role });
          window.dispatchEvent(new Event("hashchange"));
          return;
        }
      } catch (failure) {
        toast(failure.message);
      }
      refresh();
    });
  }
  const actions = [];
  if (mine || mayChange) {
    const remove = h("button", { type: "button", class: "link danger" }, mine ? "Leave" : "Remove");
    remove.addEventListener("click", async () => {
      const question = mine ? "Leave this tenant? You lose access to its projects." : `Remove ${member.email} from this tenant? Their API keys stop working.`;
      if (!window.confirm(question)) return;
      try {
        await api(`/members/${member.user_id}`, { method: "DELETE" });
        if (mine) {
          session.clear();
          window.dispatchEvent(new CustomEvent("jeex:signed-out", { detail: "you left the tenant" }));
          return;
        }
        toast(`${member.email} removed`);
        refresh();
      } catch (failure) {
        toast(failure.message);
      }
    });
    actions.push(remove);
  }
  return h(
    "tr",
    { "data-member": member.email },
    h("td", {}, member.email, member.display_name ? h("span", { class: "hint" }, ` (${member.display_name})`) : null),
    h("td", {}, role),
    h("td", {}, when(member.joined_at)),
    h("td", {}, actions),
  );
}

function invitationRow(invitation, refresh) {
  const withdraw = h("button", { type: "button", class: "link danger" }, "Withdraw");
  withdraw.addEventListener("click", async () => {
    try {
      await api(`/invitations/${invitation.id}`, { method: "DELETE" });
      toast("Invitation withdrawn");
      refresh();
    } catch (failure) {
      toast(failure.message);
    }
  });
  return h(
    "tr",
    { "data-invitation": invitation.email },
    h("td", {}, invitation.email),
    h("td", {}, invitation.role),
    h("td", {}, invitation.invited_by),
    h("td", {}, when(invitation.expires_at)),
    h("td", {}, withdraw),
  );
}

function inviteForm(me, refresh) {
  const error = errorBox();
  const shown = h("div", { class: "new-key", hidden: true });
  const form = h(
    "form",
    { class: "row", "aria-label": "Invite someone" },
    h("div", {}, h("label", { for: "invite-email" }, "Email"), h("input", { id: "invite-email", name: "email", type: "email", required: true, maxlength: 320 })),
    h("div", { class: "small" }, h("label", { for: "invite-role" }, "Role"), h("select", { id: "invite-role", name: "role" }, grantable(me.role).map((r) => h("option", { value: r, selected: r === "editor" }, r)))),
    h("div", { class: "small" }, h("button", { type: "submit", class: "primary" }, "Invite")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    busy(form.querySelector("button[type=submit]"), error, async () => {
      const made = await api("/invitations", { method: "POST", json: data });
      const how = made.mail_sent
        ? `Mailed to ${made.email}. The link, should it not arrive (it works once, until ${when(made.expires_at)}):`
        : `Send this link to ${made.email} (it works once, until ${when(made.expires_at)}):`;
      replace(
        shown,
        made.mail_error ? h("p", { class: "notice" }, made.mail_error) : null,
        h("label", { for: "invite-link" }, how),
        h("input", { id: "invite-link", readonly: true, value: made.link, class: "mono" }),
      );
      shown.hidden = false;
      shown.querySelector("input").select();
      form.reset();
      refresh();
    });
  });
  return [form, error, shown];
}

function tenantsBlock(me) {
  const list = h("ul", { class: "tenants" });
  const error = errorBox();
  const form = h(
    "form",
    { class: "row", "aria-label": "Create a tenant" },
    h("div", {}, h("label", { for: "tenant-name" }, "New tenant"), h("input", { id: "tenant-name", name: "name", required: true, maxlength: 200, placeholder: "Acme product team" })),
    h("div", { class: "small" }, h("button", { type: "submit" }, "Create")),
  );
  async function refresh() {
    try {
      const mine = await api("/tenants");
      replace(
        list,
        mine.map((tenant) => {
          const item = h("li", { "data-tenant": tenant.slug }, `${tenant.name} (${tenant.slug}) · ${tenant.role} `);
          if (tenant.current) {
            item.append(h("span", { class: "badge" }, "current"));
          } else {
            const go = h("button", { type: "button", class: "link" }, "Switch");
            go.addEventListener("click", () => switchTo(tenant.id));
            item.append(go);
          }
          return item;
        }),
      );
    } catch (failure) {
      showError(error, failure);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    busy(form.querySelector("button[type=submit]"), error, async () => {
      const tenant = await api("/tenants", { method: "POST", json: data });
      toast(`Tenant ${tenant.name} created`);
      form.reset();
      refresh();
    });
  });
  refresh();
  return [h("h3", {}, "Your tenants"), list, me.via === "api_key" ? null : form, error];
}

export async function switchTo(tenantId) {
  try {
    await useToken(await api(`/tenants/${tenantId}/token`, { method: "POST" }));
    location.hash = "#/projects";
    window.dispatchEvent(new Event("hashchange"));
  } catch (failure) {
    toast(failure.message);
  }
}

export function teamPanel() {
  const current = session.get() || {};
  const me = { role: current.role || "viewer", user_id: current.user_id };
  const manager = MANAGERS.includes(me.role);
  const members = h("tbody");
  const invitations = h("tbody");
  const error = errorBox();
  const pending = h("div", { hidden: !manager });

  async function refresh() {
    try {
      replace(members, (await api("/members")).map((m) => memberRow(m, me, refresh)));
      if (manager) {
        const open = await api("/invitations");
        replace(invitations, open.length ? open.map((i) => invitationRow(i, refresh)) : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No pending invitation.")));
      }
    } catch (failure) {
      showError(error, failure);
    }
  }

  refresh();
  replace(
    pending,
    h("h3", {}, "Pending invitations"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Email", "Role", "Invited by", "Expires", ""].map((t) => h("th", { scope: "col" }, t)))), invitations),
  );
  return h(
    "section",
    { class: "card team", "aria-labelledby": "team-title" },
    h("h2", { id: "team-title" }, "Team"),
    manager ? inviteForm(me, refresh) : h("p", { class: "hint" }, "Owners and admins invite people and change roles."),
    error,
    h("table", {}, h("thead", {}, h("tr", {}, ["Member", "Role", "Joined", ""].map((t) => h("th", { scope: "col" }, t)))), members),
    pending,
    tenantsBlock(me),
  );
}
