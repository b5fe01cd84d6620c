// Follow a project's events over SSE and come back by itself after a network drop.
// Ends for good on "auth.revoked" (onState("revoked")).
//
// EventSource reconnects on its own (sending Last-Event-ID) while the connection can
// be retried; when the browser gives up (server restarted, 5xx, offline), we open a new
// one with ?last_event_id= so that no event is lost or seen twice.

import { PREFIX, session } from "./api.js";
import { EVENT_TYPES } from "./steps.js";

export function follow(projectId, after, { onEvent, onState }) {
  let last = after || 0;
  let source = null;
  let timer = null;
  let delay = 1000;
  let stopped = false;

  function open() {
    if (stopped) return;
    const current = session.get();
    if (!current) return;
    const url = new URL(`${PREFIX}/projects/${projectId}/events`, location.origin);
    url.searchParams.set("access_token", current.token);
    if (last) url.searchParams.set("last_event_id", String(last));
    source = new EventSource(url);
    source.addEventListener("open", () => {
      delay = 1000;
      onState("live");
    });
    source.addEventListener("error", () => {
      onState("reconnecting");
      if (source.readyState === EventSource.CLOSED) again();
    });
    // The server ends the stream when this session may no longer read the project (key
    // revoked, signed out, membership or project gone): stop, rather than retry into 401s.
    source.addEventListener("auth.revoked", () => {
      stopped = true;
      source.close();
      onState("revoked");
    });
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        const event = JSON.parse(message.data);
        if (event.seq <= last) return;
        last = event.seq;
        onEvent(event);
      });
    }
  }

  function again() {
    source?.close();
    clearTimeout(timer);
    timer = setTimeout(open, delay);
    delay = Math.min(delay * 2, 15000);
  }

  function online() {
    if (!source || source.readyState === EventSource.CLOSED) {
      delay = 1000;
      again();
    }
  }

  window.addEventListener("online", online);
  open();
  return {
    get last() {
      return last;
    },
    close() {
      stopped = true;
      clearTimeout(timer);
      source?.close();
      window.removeEventListener("online", online);
    },
  };
}
