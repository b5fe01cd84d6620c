// Sign-in: a local account (email and password, OAuth2 password flow), optionally
// into another tenant the account belongs to. Providers (OIDC) get their own buttons
// in #providers once the server offers them.

import { api, session } from "./api.js";
import { busy, errorBox, h } from "./dom.js";

export function signIn(main, { email = "", reason = "", onDone }) {
  const error = errorBox();
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    reason ? h("p", { class: "notice" }, reason) : null,
    h("label", { for: "email" }, "Email"),
    h("input", { id: "email", name: "username", type: "email", required: true, autocomplete: "username", value: email }),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", required: true, autocomplete: "current-password" }),
    h("label", { for: "tenant" }, "Tenant ", h("span", { class: "hint" }, "(optional: your default tenant if empty)")),
    h("input", { id: "tenant", name: "tenant", autocomplete: "organization", maxlength: 63 }),
    error,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    h("div", { id: "providers", class: "providers", hidden: true }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    busy(form.querySelector("button[type=submit]"), error, async () => {
      const token = await api("/auth/token", { method: "POST", form: { ...data, grant_type: "password" } });
      session.set({ token: token.access_token, expires_at: Date.now() + token.expires_in * 1000 });
      const me = await api("/auth/me");
      session.set({ ...session.get(), email: me.email, tenant: me.tenant_slug, role: me.role, user_id: me.user_id });
      onDone();
    });
  });
  main.replaceChildren(form);
  (email ? form.querySelector("#tenant") : form.querySelector("#email")).focus();
}
