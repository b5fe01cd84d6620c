// The plan's steps and the event types, as the API declares them (GET /kinds and
// /vocabulary): nothing here retypes what the server knows. Loaded once after sign-in.

import { api } from "./api.js";

// step number → { short, title, types }, filled by load().
export const STEPS = {};
// Every event type the stream sends, filled by load().
export const EVENT_TYPES = [];

let loaded = null;

export function load() {
  loaded ||= Promise.all([api("/kinds"), api("/vocabulary")]).then(([kinds, vocabulary]) => {
    for (const kind of kinds) {
      if (kind.step === null) continue;
      STEPS[kind.step] = { short: kind.label, title: kind.title, types: kind.document_types };
    }
    EVENT_TYPES.splice(0, EVENT_TYPES.length, ...vocabulary.event_types);
  }).catch((error) => {
    loaded = null; // try again on the next page
    throw error;
  });
  return loaded;
}

export function stepNumbers() {
  return Object.keys(STEPS).map(Number).sort((a, b) => a - b);
}
