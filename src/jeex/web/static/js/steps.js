// The four steps of the pipeline and the documents each one writes.

export const STEPS = {
  1: { short: "Business Analyst", title: "Business Analyst → about.md", types: ["about"] },
  2: { short: "Engineering Standards", title: "Engineering Standards → specs.md", types: ["specs"] },
  3: { short: "Architect", title: "Architect → architecture.md", types: ["architecture"] },
  4: { short: "Implementation Planner", title: "Implementation Planner → plans/", types: ["plan_overview", "plan_epic"] },
};
