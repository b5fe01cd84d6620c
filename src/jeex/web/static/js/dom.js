// Building DOM nodes without innerHTML: text is always text. The one exception,
// `sanitised()`, takes HTML the server already cleaned (nh3 allow-list, SECURITY.md P11);
// the page's Content-Security-Policy would still stop anything it let through.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "value") {
      el.value = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function sanitised(html, className = "prose") {
  const box = h("div", { class: className });
  const template = document.createElement("template");
  template.innerHTML = html;
  box.append(template.content);
  return box;
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("shown"), 4000);
}

// An error shown next to what caused it: a region under the form or control.
export function errorBox() {
  return h("p", { class: "error", role: "alert", hidden: true });
}

export function showError(box, error) {
  box.textContent = error ? error.message || String(error) : "";
  box.hidden = !error;
}

// Runs `work` with the button disabled; shows its error in `box`.
export async function busy(button, box, work) {
  button.disabled = true;
  showError(box, null);
  try {
    return await work();
  } catch (error) {
    showError(box, error);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  // A moment to come (an expiry) is a date and time, never "just now".
  if (seconds < -60) return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return date.toLocaleDateString();
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
