// The page's router: #/projects, #/projects/<id>[/step/<n>], #/documents[/<id>],
// #/templates; sign-in when needed.
// A provider's sign-in comes back as #signed-in&token=…&expires_in=… (or
// #signed-in-failed&reason=…), taken before routing.

import { api, session } from "./api.js";
import { documentPage, documentsPage } from "./documents.js";
import { h, replace } from "./dom.js";
import { projectsPage } from "./projects.js";
import { invitePage } from "./invite.js";
import { signIn } from "./signin.js";
import { templatesPage } from "./templates.js";
import { STEPS, load as loadSteps } from "./steps.js";
import { workspacePage } from "./workspace.js";

const main = document.getElementById("main");
let leave = () => {};
let reason = "";

function drawAccount() {
  const current = session.get();
  const account = document.getElementById("account");
  account.hidden = !current;
  if (current) {
    document.getElementById("who").textContent = `${current.email} · ${current.tenant} (${current.role})`;
  }
}

// The token arrives in the fragment (never sent to a server); it is kept in this tab's
// session exactly as a password sign-in keeps it, and the fragment is replaced at once
// so it stays neither in the address bar nor in the history.
async function takeSignIn() {
  const [head, ...rest] = location.hash.replace(/^#/, "").split("&");
  if (head !== "signed-in" && head !== "signed-in-failed") return;
  const params = new URLSearchParams(rest.join("&"));
  history.replaceState(null, "", `${location.pathname}${location.search}#/projects`);
  if (head === "signed-in-failed") {
    session.clear();
    reason = params.get("reason") || "The sign-in did not succeed; try again.";
    return;
  }
  const expiresIn = Number(params.get("expires_in")) || 0;
  session.set({ token: params.get("token"), expires_at: Date.now() + expiresIn * 1000 });
  try {
    const me = await api("/auth/me");
    session.set({ ...session.get(), email: me.email, tenant: me.tenant_slug, role: me.role });
    reason = "";
  } catch (error) {
    session.clear();
    reason = `The sign-in could not be completed: ${error.message}`;
  }
}

async function route() {
  leave();
  leave = () => {};
  drawAccount();
  const invite = /^#\/invite\/([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (invite) {
    await invitePage(main, invite[1], { signIn });
    return;
  }
  const current = session.get();
  if (!current || current.expires_at < Date.now()) {
    const email = current?.email || "";
    session.clear();
    drawAccount();
    signIn(main, { email, reason, onDone: () => { reason = ""; route(); } });
    return;
  }
  try {
    await loadSteps();
  } catch (error) {
    replace(main, h("h1", {}, "JEEX is not reachable"), h("p", { role: "alert" }, `Could not load the plan's steps: ${error.message}`));
    return;
  }
  const path = location.hash.replace(/^#/, "") || "/projects";
  const match = /^\/projects\/([0-9a-f-]{36})(?:\/step\/(\d+))?$/.exec(path);
  if (match && (!match[2] || STEPS[Number(match[2])])) {
    leave = (await workspacePage(main, match[1], match[2] ? Number(match[2]) : 0)) || (() => {});
  } else if (path === "/projects") {
    await projectsPage(main);
  } else if (path === "/documents") {
    await documentsPage(main);
  } else if (/^\/documents\/[0-9a-f-]{36}$/.test(path)) {
    leave = (await documentPage(main, path.split("/")[2])) || (() => {});
  } else if (path === "/templates") {
    await templatesPage(main);
  } else {
    replace(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/projects" }, "Back to the projects")));
  }
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await api("/auth/logout", { method: "POST" });
  } catch {
    // signed out locally all the same
  }
  session.clear();
  route();
});

document.getElementById("switch-tenant").addEventListener("click", () => {
  // Your tenants are listed in the Team panel of the projects page, each with Switch.
  location.hash = "#/projects";
  route().then(() => document.getElementById("team-title")?.scrollIntoView());
});

window.addEventListener("jeex:signed-out", (event) => {
  reason = `You were signed out: ${event.detail}`;
  route();
});
window.addEventListener("hashchange", () => takeSignIn().then(route));
takeSignIn().then(route);
