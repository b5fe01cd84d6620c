// Sign-in: a local account (email and password, OAuth2 password flow), optionally
// into another tenant the account belongs to, and one "Sign in with <name>" link per
// OpenID Connect provider the server offers (GET /auth/providers). The provider sends
// the browser back to /#signed-in&token=… (app.js takes the token from there); when the
// server has password sign-in switched off, only the providers are shown.

import { api, session } from "./api.js";
import { busy, errorBox, h, replace } from "./dom.js";

async function offerProviders(form) {
  let offer;
  try {
    offer = await api("/auth/providers");
  } catch {
    return; // an older server, or none reachable: the password form alone
  }
  const box = form.querySelector("#providers");
  replace(
    box,
    offer.providers.map((provider) =>
      h("a", { class: "provider-button", href: provider.login_url }, `Sign in with ${provider.name}`),
    ),
  );
  box.hidden = offer.providers.length === 0;
  if (!offer.passwords) {
    const local = form.querySelector("#password-signin");
    local.hidden = true;
    for (const input of local.querySelectorAll("input, button")) input.disabled = true;
    if (offer.providers.length === 0) {
      form.querySelector("#providers-none").hidden = false;
    }
  }
}

export function signIn(main, { email = "", reason = "", onDone }) {
  const error = errorBox();
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    reason ? h("p", { class: "notice" }, reason) : null,
    h(
      "div",
      { id: "password-signin" },
      h("label", { for: "email" }, "Email"),
      h("input", { id: "email", name: "username", type: "email", required: true, autocomplete: "username", value: email }),
      h("label", { for: "password" }, "Password"),
      h("input", { id: "password", name: "password", type: "password", required: true, autocomplete: "current-password" }),
      h("label", { for: "tenant" }, "Tenant ", h("span", { class: "hint" }, "(optional: your default tenant if empty)")),
      h("input", { id: "tenant", name: "tenant", autocomplete: "organization", maxlength: 63 }),
      error,
      h("button", { type: "submit", class: "primary" }, "Sign in"),
    ),
    h("div", { id: "providers", class: "providers", hidden: true }),
    h("p", { id: "providers-none", class: "hint", hidden: true }, "No way to sign in is configured on this server."),
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
  offerProviders(form);
}
