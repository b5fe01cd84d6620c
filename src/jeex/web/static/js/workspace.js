// A project's workspace: the four steps as a stepper; the selected step's run with its
// live sections (SSE), progress, ETA, tokens and cost, and its controls; the step's
// document with key facts, confidence, checklist, questions, versions and diffs; then
// the project's exhibits and exports.

import { api } from "./api.js";
import { busy, duration, errorBox, h, replace, sanitised, showError, toast, when } from "./dom.js";
import { exhibitsPanel } from "./exhibits.js";
import { exportsPanel } from "./exports.js";
import { STEPS, stepNumbers } from "./steps.js";
import { follow } from "./stream.js";

const ACTIVE = new Set(["pending", "running"]);

function latestRun(runs, step) {
  return runs.filter((run) => run.step === step).at(-1) || null;
}

function stepState(view, step) {
  const run = latestRun(view.runs, step);
  if (run) return run.status;
  return view.documents.some((d) => STEPS[step].types.includes(d.document_type)) ? "completed" : "not started";
}

export async function workspacePage(main, projectId, requestedStep) {
  const view = {
    id: projectId,
    project: null,
    runs: [],
    progress: null,
    documents: [],
    step: requestedStep,
    live: new Map(),
    shownDocument: null,
  };
  const header = h("div", { class: "project-head" });
  const liveState = h("span", { class: "live-state", role: "status", "aria-live": "polite" }, "connecting…");
  const stepper = h("ol", { class: "stepper", "aria-label": "Steps" });
  const stepPanel = h("section", { class: "card step-panel", "aria-labelledby": "step-title" });
  const documentPanel = h("section", { class: "card document-panel", "aria-labelledby": "doc-title" });
  const exhibits = h("section", { class: "card", "aria-labelledby": "exhibits-title" });
  const exports = h("section", { class: "card", "aria-labelledby": "exports-title" });
  const pageError = errorBox();
  replace(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/projects" }, "Projects")),
    header,
    pageError,
    stepper,
    h("div", { class: "grid" }, stepPanel, documentPanel),
    h("div", { class: "grid" }, exhibits, exports),
  );

  async function load() {
    const [project, runs, progress, documents] = await Promise.all([
      api(`/projects/${projectId}`),
      api(`/projects/${projectId}/runs`),
      api(`/projects/${projectId}/progress`),
      api(`/projects/${projectId}/documents`),
    ]);
    Object.assign(view, { project, runs, progress, documents });
    if (!view.step) view.step = Math.max(1, project.current_step || 1);
  }

  function drawHeader() {
    const p = view.project;
    replace(
      header,
      h("h1", {}, p.name),
      h("p", { class: "idea" }, p.idea_description),
      h(
        "p",
        { class: "meta" },
        h("span", { class: `badge ${p.status}` }, p.status),
        p.target_audience ? h("span", {}, `for ${p.target_audience}`) : null,
        h("span", {}, `language ${p.language}`),
        liveState,
      ),
    );
  }

  function drawStepper() {
    replace(
      stepper,
      stepNumbers().map((step) => {
        const status = stepState(view, step);
        return h(
          "li",
          { class: `step ${status.replace(" ", "-")}` },
          h(
            "a",
            {
              href: `#/projects/${projectId}/step/${step}`,
              "aria-current": step === view.step ? "step" : null,
            },
            h("span", { class: "number" }, String(step)),
            h("span", { class: "label" }, STEPS[step].short),
            h("span", { class: "status" }, status),
          ),
        );
      }),
    );
  }

  function runProgress(run) {
    return view.progress?.runs.find((r) => r.id === run.id) || null;
  }

  function sectionBody(run, section) {
    const live = view.live.get(`${run.id}/${section.key}`);
    if (section.status === "completed" && section.html) return sanitised(section.html);
    if (live !== undefined) return h("div", { class: "streaming", "data-live": `${run.id}/${section.key}` }, live);
    return section.html ? sanitised(section.html) : h("div", { class: "streaming", "data-live": `${run.id}/${section.key}` });
  }

  function controls(run) {
    const error = errorBox();
    const buttons = [];
    const act = (label, action, cls = "") => {
      const button = h("button", { type: "button", class: cls }, label);
      button.addEventListener("click", () =>
        busy(button, error, async () => {
          await action();
          await refresh();
        }),
      );
      buttons.push(button);
    };
    const start = () => api(`/projects/${projectId}/step${view.step}`, { method: "POST", json: {} });
    act(run ? `Run step ${view.step} again` : `Run step ${view.step}`, start, "primary");
    const busyRun = view.runs.find((r) => ACTIVE.has(r.status));
    if (busyRun) {
      buttons[0].disabled = true;
      buttons[0].title = `Step ${busyRun.step} is ${busyRun.status}: wait, pause or cancel it first.`;
    }
    if (run && ACTIVE.has(run.status)) {
      act(run.desired_state === "paused" ? "Pausing…" : "Pause", () => api(`/runs/${run.id}/pause`, { method: "POST" }));
      act("Cancel", () => api(`/runs/${run.id}/cancel`, { method: "POST" }), "danger");
    } else if (run?.status === "paused") {
      act("Resume", () => api(`/runs/${run.id}/resume`, { method: "POST" }), "primary");
      act("Cancel", () => api(`/runs/${run.id}/cancel`, { method: "POST" }), "danger");
    } else if (run && ["failed", "cancelled"].includes(run.status)) {
      act("Retry", () => api(`/runs/${run.id}/retry`, { method: "POST" }), "primary");
    }
    return [h("div", { class: "actions" }, buttons), error];
  }

  function drawStepPanel() {
    const run = latestRun(view.runs, view.step);
    const progress = run ? runProgress(run) : null;
    const parts = [h("h2", { id: "step-title" }, `Step ${view.step}: ${STEPS[view.step].title}`), controls(run)];
    if (!run) {
      parts.push(h("p", { class: "hint" }, "This step has not run yet."));
    } else {
      const done = progress?.sections_done ?? 0;
      const expected = progress?.sections_expected ?? 1;
      const percent = Math.round((100 * done) / Math.max(1, expected));
      const eta = ACTIVE.has(run.status) ? duration(view.progress?.eta_seconds) : "—";
      parts.push(
        h("p", { class: "run-line" }, h("span", { class: `badge ${run.status}` }, run.status), ` started ${when(run.started_at || run.created_at)}`, run.attempts > 1 ? ` · attempt ${run.attempts}` : ""),
        run.error ? h("p", { class: "error" }, run.error) : null,
        h("progress", { max: expected, value: done, "aria-label": "Sections written" }),
        h(
          "dl",
          { class: "stats" },
          h("div", {}, h("dt", {}, "Sections"), h("dd", { class: "sections-count" }, `${done} / ${expected} (${percent} %)`)),
          h("div", {}, h("dt", {}, "ETA"), h("dd", {}, eta)),
          h("div", {}, h("dt", {}, "Elapsed"), h("dd", {}, duration(progress?.elapsed_seconds))),
          h("div", {}, h("dt", {}, "Tokens"), h("dd", {}, `${run.tokens_in} in · ${run.tokens_out} out`)),
          h("div", {}, h("dt", {}, "Cost"), h("dd", {}, `$${Number(run.cost).toFixed(4)}`)),
        ),
        h(
          "ol",
          { class: "sections", "aria-label": "Sections" },
          (progress?.sections || []).map((section) =>
            h(
              "li",
              { class: `section ${section.status}`, "data-key": section.key },
              h(
                "details",
                { open: section.status !== "completed" },
                h("summary", { class: "section-head" }, h("span", { class: "section-title" }, section.title || section.key), h("span", { class: `badge ${section.status}` }, section.status)),
                sectionBody(run, section),
              ),
            ),
          ),
        ),
      );
    }
    if (view.progress?.log?.length) {
      parts.push(h("details", { class: "log" }, h("summary", {}, "Event log"), h("pre", {}, view.progress.log.join("\n"))));
    }
    replace(stepPanel, parts);
  }

  function questionsForm(document) {
    const questions = document.metadata.suggested_questions || [];
    if (!questions.length) return null;
    const error = errorBox();
    const form = h(
      "form",
      { class: "questions" },
      h("h3", {}, "Clarifying questions"),
      questions.map((question, index) =>
        h("div", { class: "question" }, h("label", { for: `answer-${index}` }, question), h("textarea", { id: `answer-${index}`, "data-question": question, rows: 2, maxlength: 4000 })),
      ),
      error,
      h("button", { type: "submit", class: "primary" }, `Answer and re-run step ${view.step}`),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const answers = {};
      for (const area of form.querySelectorAll("textarea")) {
        if (area.value.trim()) answers[area.dataset.question.slice(0, 500)] = area.value.trim();
      }
      if (!Object.keys(answers).length) {
        showError(error, new Error("Answer at least one question first."));
        return;
      }
      busy(form.querySelector("button"), error, async () => {
        await api(`/projects/${projectId}/step${view.step}`, { method: "POST", json: { user_clarifications: answers } });
        toast(`Step ${view.step} queued with your answers.`);
        await refresh();
      });
    });
    return form;
  }

  async function versionsBlock(document) {
    const versions = await api(`/projects/${projectId}/documents/${document.id}/versions`);
    const diffBox = h("div", { class: "diff-box" });
    const error = errorBox();
    const options = (selected) => versions.map((v) => h("option", { value: v.version, selected: v.version === selected }, `v${v.version}`));
    const from = h("select", { id: "diff-from", "aria-label": "From version" }, options(Math.max(1, document.version - 1)));
    const to = h("select", { id: "diff-to", "aria-label": "To version" }, options(document.version));
    const show = h("button", { type: "button" }, "Show diff");
    show.addEventListener("click", () =>
      busy(show, error, async () => {
        const diff = await api(`/projects/${projectId}/documents/${document.id}/diff?from=${from.value}&to=${to.value}`);
        const lines = diff.diff ? diff.diff.split("\n") : ["(no difference)"];
        replace(
          diffBox,
          h("pre", { class: "diff", "aria-label": `Diff v${diff.from_version} → v${diff.to_version}` },
            lines.map((line) => h("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "" }, `${line}\n`))),
        );
      }),
    );
    return h(
      "div",
      { class: "versions" },
      h("h3", {}, "Versions"),
      h(
        "ul",
        { class: "version-list" },
        versions.map((v) => {
          const open = h("button", { type: "button", class: "link", "aria-pressed": v.id === document.id }, `v${v.version}`);
          open.addEventListener("click", () => {
            view.shownDocument = v;
            drawDocument();
          });
          return h("li", {}, open, ` ${when(v.created_at)}`);
        }),
      ),
      versions.length > 1 ? h("div", { class: "diff-controls" }, from, " → ", to, show) : null,
      error,
      diffBox,
    );
  }

  async function drawDocument() {
    const types = STEPS[view.step].types;
    const documents = view.documents.filter((d) => types.includes(d.document_type));
    if (view.shownDocument && !types.includes(view.shownDocument.document_type)) view.shownDocument = null;
    const document = view.shownDocument || documents[0];
    if (!document) {
      replace(documentPanel, h("h2", { id: "doc-title" }, "Document"), h("p", { class: "hint" }, "No document yet: run the step to write it."));
      return;
    }
    const error = errorBox();
    try {
      const [content, versions] = await Promise.all([
        api(`/projects/${projectId}/documents/${document.id}/content?format=html`),
        versionsBlock(document),
      ]);
      const meta = document.metadata || {};
      const picker =
        documents.length > 1
          ? h("nav", { class: "doc-picker", "aria-label": "Documents of this step" },
              documents.map((d) => {
                const pick = h("button", { type: "button", class: "link", "aria-pressed": d.id === document.id }, d.title);
                pick.addEventListener("click", () => {
                  view.shownDocument = d;
                  drawDocument();
                });
                return pick;
              }))
          : null;
      replace(
        documentPanel,
        h("h2", { id: "doc-title" }, document.title, h("span", { class: "version" }, ` v${document.version}`)),
        picker,
        h(
          "dl",
          { class: "stats" },
          h("div", {}, h("dt", {}, "Confidence"), h("dd", { class: "confidence" }, meta.confidence === undefined ? "—" : `${Math.round(meta.confidence * 100)} %`)),
          h("div", {}, h("dt", {}, "Readability"), h("dd", {}, document.readability_score === null ? "—" : document.readability_score.toFixed(0))),
          h("div", {}, h("dt", {}, "Written"), h("dd", {}, when(document.created_at))),
        ),
        meta.key_facts?.length ? h("div", { class: "facts" }, h("h3", {}, "Key facts"), h("ul", {}, meta.key_facts.map((f) => h("li", {}, f)))) : null,
        meta.validation_checklist?.length
          ? h("div", { class: "checklist" }, h("h3", {}, "Checklist"),
              h("ul", {}, meta.validation_checklist.map((c) => h("li", { class: c.passed ? "passed" : "failed" }, h("span", { class: "mark", "aria-label": c.passed ? "passed" : "failed" }, c.passed ? "✓" : "✗"), ` ${c.item}`, c.detail ? h("span", { class: "hint" }, ` — ${c.detail}`) : null))))
          : null,
        questionsForm(document),
        versions,
        h("h3", {}, "Text"),
        sanitised(content.content, "prose document"),
      );
    } catch (failure) {
      replace(documentPanel, h("h2", { id: "doc-title" }, document.title), error);
      showError(error, failure);
    }
  }

  let refreshing = null;
  let again = false;
  async function refresh() {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        try {
          await load();
          showError(pageError, null);
        } catch (failure) {
          showError(pageError, failure);
        }
        drawHeader();
        drawStepper();
        drawStepPanel();
      } while (again);
    })();
    try {
      await refreshing;
    } finally {
      refreshing = null;
    }
  }

  // Events come in bursts; one refresh follows the burst. A new document anywhere in the
  // burst redraws the document panel, even when a later event (run.completed) restarts the
  // wait: with a fast embedder the two arrive within milliseconds.
  let timer = null;
  let documentsChanged = false;
  function soon(withDocuments = false) {
    documentsChanged = documentsChanged || withDocuments;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const redraw = documentsChanged;
      documentsChanged = false;
      await refresh();
      if (redraw) {
        view.shownDocument = null;
        await drawDocument();
      }
    }, 250);
  }

  function onEvent(event) {
    if (event.type === "section.delta") {
      const key = `${event.run_id}/${event.data.key}`;
      const text = (view.live.get(key) || "") + (event.data.text || "");
      view.live.set(key, text);
      const box = stepPanel.querySelector(`[data-live="${CSS.escape(key)}"]`);
      if (box) box.textContent = text;
      return;
    }
    if (event.type === "export.ready") {
      exportsView.refresh();
      return;
    }
    soon(event.type === "document.created");
  }

  try {
    await load();
  } catch (failure) {
    showError(pageError, failure);
    return () => {};
  }
  drawHeader();
  drawStepper();
  drawStepPanel();
  await drawDocument();
  const exhibitsView = exhibitsPanel(exhibits, projectId);
  const exportsView = exportsPanel(exports, projectId);
  const stream = follow(projectId, view.progress.last_seq, {
    onEvent,
    onState: (state) => {
      liveState.textContent =
        { live: "● live", revoked: "stopped: sign in again" }[state] ?? "reconnecting…";
      liveState.className = `live-state ${state}`;
      if (state === "live") soon();
    },
  });
  return () => {
    stream.close();
    clearTimeout(timer);
    exhibitsView.close();
    exportsView.close();
  };
}
