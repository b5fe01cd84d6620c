// Accepting an invitation (#/invite/<token>): what it is for, then join — signed in with
// the invited email, or as a new account with a password. An existing account signs in
// first and comes back here.

import { api, session } from "./api.js";
import { busy, errorBox, h, replace } from "./dom.js";
import { useToken } from "./team.js";

export async function invitePage(main, token, { signIn }) {
  const error = errorBox();
  let preview;
  try {
    preview = await api("/invitations/preview", { method: "POST", json: { token } });
  } catch (failure) {
    replace(main, h("section", { class: "card narrow" }, h("h1", {}, "Invitation"), h("p", { role: "alert" }, failure.message), h("a", { href: "#/projects" }, "Go to your projects")));
    return;
  }
  const current = session.get();
  const signedIn = current && current.expires_at > Date.now();
  const title = h("h1", { id: "invite-title" }, `Join ${preview.tenant_name}`);
  const what = h("p", {}, `You are invited as ${preview.role}, for ${preview.email}.`);

  async function accept(body) {
    const joined = await api("/invitations/accept", { method: "POST", json: { token, ...body } });
    if (!signedIn) session.set({ email: preview.email });
    await useToken(joined);
    location.hash = "#/projects";
  }

  if (signedIn && current.email !== preview.email) {
    replace(main, h("section", { class: "card narrow" }, title, what, h("p", { role: "alert" }, `You are signed in as ${current.email}. Sign out, then open the link again.`)));
    return;
  }
  if (signedIn) {
    const join = h("button", { type: "button", class: "primary" }, "Join");
    join.addEventListener("click", () => busy(join, error, () => accept({})));
    replace(main, h("section", { class: "card narrow", "aria-labelledby": "invite-title" }, title, what, error, join));
    return;
  }
  if (preview.account_exists) {
    signIn(main, {
      email: preview.email,
      reason: `Sign in as ${preview.email} to join ${preview.tenant_name}.`,
      onDone: () => invitePage(main, token, { signIn }),
    });
    return;
  }
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "invite-title" },
    title,
    what,
    h("label", { for: "display-name" }, "Your name"),
    h("input", { id: "display-name", name: "display_name", maxlength: 200, autocomplete: "name" }),
    h("label", { for: "new-password" }, "Choose a password ", h("span", { class: "hint" }, "(at least 8 characters)")),
    h("input", { id: "new-password", name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" }),
    error,
    h("button", { type: "submit", class: "primary" }, "Create account and join"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form.querySelector("button[type=submit]"), error, () => accept(Object.fromEntries(new FormData(form))));
  });
  replace(main, form);
  form.querySelector("#new-password").focus();
}
