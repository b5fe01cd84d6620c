// Validates KEDA objects (JSON array on stdin) against KEDA's schemas, as published in
// @kubernetes-models/keda; prints one line per invalid object and exits 1 if any.
// Used by tests/deploy/test_manifests.py (kubernetes-validate knows no custom resources).
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { readFileSync } from "node:fs";

const models = { ScaledObject, TriggerAuthentication };
const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const object of objects) {
  const Model = models[object.kind];
  const name = `${object.kind}/${object.metadata?.name}`;
  if (!Model) {
    console.log(`${name}: no KEDA schema for this kind here`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`${name}: valid`);
  } catch (error) {
    console.log(`${name}: ${error.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
