// The wsctl local console. Two sockets: the feed (/@console/feed, this origin only) tells
// what the stack does; the page's own connection to the stage sends and receives frames
// as any browser client of the service would. Everything from the wire is shown with
// textContent, never parsed as HTML.
"use strict";

const LOG_LIMIT = 500;
const INVOCATION_LIMIT = 300;
const $ = (id) => document.getElementById(id);

const state = {
  hello: null,
  socket: null,
  selfId: null,
  connections: new Map(),
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function clock(ms) {
  const at = ms ? new Date(ms) : new Date();
  return el("time", { dateTime: at.toISOString(), textContent: at.toLocaleTimeString() });
}

function prepend(list, item, limit) {
  list.prepend(item);
  while (list.children.length > limit) list.lastElementChild.remove();
}

function setStatus(stateName, text) {
  const pill = $("status");
  pill.dataset.state = stateName;
  pill.textContent = text;
  $("reconnect").hidden = stateName === "open" || stateName === "connecting";
  for (const button of document.querySelectorAll("#send-form button")) {
    button.disabled = stateName !== "open";
  }
}

// Feed ---------------------------------------------------------------------------------------
function openFeed() {
  const feed = new WebSocket(`ws://${location.host}/@console/feed`);
  feed.onmessage = (message) => onFeed(JSON.parse(message.data));
  feed.onclose = () => {
    note("The console's feed closed: the emulator stopped or restarted. Reload the page.");
    setStatus("closed", "emulator gone");
  };
}

function onFeed(event) {
  switch (event.type) {
    case "hello":
      state.hello = event;
      $("stack").textContent = event.stack;
      document.title = `${event.stack} · wsctl console`;
      for (const connection of event.connections) addConnection(connection);
      $("send-broadcast").hidden = !event.protocol;
      $("send-one").hidden = !event.protocol;
      $("message-hint").textContent = event.protocol
        ? "(JSON or text; Broadcast and Send to wrap it in the service's protocol)"
        : "(sent as one text frame)";
      openSocket();
      break;
    case "connected":
      addConnection(event.connection);
      break;
    case "disconnected":
      removeConnection(event.connectionId);
      break;
    case "invocation":
      addInvocation(event);
      break;
    case "missed":
      note(`The page fell behind: ${event.count} event(s) were not shown.`);
      break;
  }
}

// Connections --------------------------------------------------------------------------------
function addConnection(connection) {
  state.connections.set(connection.connectionId, connection);
  renderConnections();
}

function removeConnection(connectionId) {
  state.connections.delete(connectionId);
  renderConnections();
}

function renderConnections() {
  const body = $("connections").tBodies[0];
  const rows = [...state.connections.values()].sort((a, b) => a.connectedAt - b.connectedAt);
  body.replaceChildren(
    ...rows.map((c) => {
      const row = el(
        "tr",
        { "data-id": c.connectionId },
        el("td", { class: "id", textContent: c.connectionId }),
        el("td", { class: "since" }, clock(c.connectedAt)),
        el("td", { class: "source", textContent: c.sourceIp }),
        el("td", { class: "agent", textContent: c.userAgent || "(none)" }),
      );
      if (c.connectionId === state.selfId) row.classList.add("self");
      return row;
    }),
  );
  if (!rows.length) {
    body.append(el("tr", {}, el("td", { class: "empty", colSpan: 4, textContent: "No connection." })));
  }
  $("connection-count").textContent = rows.length;
  const target = $("target");
  const chosen = target.value;
  // Other connections first: sending to oneself is the rarer wish.
  const others = [...rows.filter((c) => c.connectionId !== state.selfId), ...rows.filter((c) => c.connectionId === state.selfId)];
  target.replaceChildren(
    ...others.map((c) =>
      el("option", {
        value: c.connectionId,
        textContent: c.connectionId === state.selfId ? `${c.connectionId} (this page)` : c.connectionId,
      }),
    ),
  );
  if (state.connections.has(chosen)) target.value = chosen;
}

// Invocations --------------------------------------------------------------------------------
function addInvocation(inv) {
  const summary = el(
    "summary",
    {},
    clock(inv.startedAt),
    el("strong", { class: "function", textContent: inv.function }),
    " ",
    el("span", { class: "route mono", textContent: inv.route }),
    el("span", { class: "duration", textContent: `${inv.durationMs.toFixed(1)} ms` }),
    el("span", { class: "outcome", textContent: inv.outcome === "ok" ? "ok" : `failed (${inv.outcome})` }),
  );
  const details = el("details", { class: "invocation" }, summary);
  details.append(
    el("pre", {
      class: "logs",
      textContent: inv.logs.length ? inv.logs.join("\n") : "(no log lines)",
    }),
  );
  if (inv.outcome !== "ok") details.open = true;
  const item = el(
    "li",
    { "data-outcome": inv.outcome, "data-function": inv.function, "data-route": inv.route },
    details,
  );
  if (inv.connectionId) item.dataset.connection = inv.connectionId;
  prepend($("invocations"), item, INVOCATION_LIMIT);
}

// The page's own connection ------------------------------------------------------------------
function stageUrl() {
  const hello = state.hello;
  // Query parameters for the handshake (a custom authorizer's identity source, say) come from
  // this page's #fragment, which the browser never sends to a server: /#key=value&...
  const query = new URLSearchParams(location.hash.slice(1));
  // Browsers cannot set headers on a WebSocket: the token goes as the query parameter the
  // service reads (DESIGN.md section 5). It never appears in this page's own address.
  if (hello.token) query.set("token", hello.token);
  const search = query.toString();
  return `ws://${location.host}/${encodeURIComponent(hello.stage)}${search ? `?${search}` : ""}`;
}

function openSocket() {
  setStatus("connecting", "connecting");
  state.selfId = null;
  $("whoami").textContent = "";
  let opened = false;
  const socket = new WebSocket(stageUrl());
  state.socket = socket;
  socket.onopen = () => {
    opened = true;
    setStatus("open", "connected");
    if (state.hello.protocol) socket.send(JSON.stringify({ action: "whoami" }));
  };
  socket.onmessage = (message) => onFrame(message.data);
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    if (!opened) {
      const why = {
        iam: "This stack requires SigV4-signed handshakes (--auth iam), which a browser cannot make.",
        custom:
          "The stack's authorizer refused this page. Give it what it reads as query parameters " +
          "in this page's address after #, e.g. /#key=value (never sent to a server).",
      }[state.hello.auth] || "The stack refused this page's connection (its $connect answered non-2xx).";
      setStatus("refused", "refused");
      note(why);
    } else {
      setStatus("closed", `closed ${event.code}`);
      note(`Connection closed: ${event.code}${event.reason ? ` (${event.reason})` : ""}.`);
    }
  };
}

function onFrame(data) {
  let parsed = null;
  try {
    parsed = JSON.parse(data);
  } catch (_) {
    /* not JSON: shown as text */
  }
  if (parsed && parsed.type === "whoami" && parsed.connectionId && !state.selfId) {
    state.selfId = parsed.connectionId;
    $("whoami").textContent = `you are ${state.selfId}`;
    renderConnections();
  }
  logFrame("in", data, parsed);
}

function logFrame(direction, data, parsed) {
  const text = parsed === null || parsed === undefined ? data : JSON.stringify(parsed);
  const item = el(
    "li",
    { "data-direction": direction },
    clock(),
    el("span", { class: "arrow", textContent: direction === "in" ? "↓" : "↑" }),
    el("pre", { textContent: text }),
  );
  if (parsed && typeof parsed.type === "string") item.dataset.type = parsed.type;
  prepend($("log"), item, LOG_LIMIT);
}

function note(text) {
  prepend($("log"), el("li", { "data-direction": "note" }, clock(), text), LOG_LIMIT);
}

function messageValue(text) {
  try {
    return JSON.parse(text);
  } catch (_) {
    return text;
  }
}

function send(mode) {
  const socket = state.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  const text = $("message").value;
  let frame = text;
  if (mode === "broadcast") frame = JSON.stringify({ action: "broadcast", message: messageValue(text) });
  if (mode === "send") {
    frame = JSON.stringify({ action: "send", to: $("target").value, message: messageValue(text) });
  }
  socket.send(frame);
  let parsed = null;
  try {
    parsed = JSON.parse(frame);
  } catch (_) {
    /* text */
  }
  logFrame("out", frame, parsed);
}

document.addEventListener("DOMContentLoaded", () => {
  $("send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send("raw");
  });
  $("send-broadcast").addEventListener("click", () => send("broadcast"));
  $("send-to").addEventListener("click", () => send("send"));
  $("reconnect").addEventListener("click", () => {
    if (state.hello) openSocket();
  });
  // New #parameters in the address: connect again with them.
  window.addEventListener("hashchange", () => {
    if (!state.hello) return;
    const previous = state.socket;
    openSocket();
    if (previous) previous.close(1000, "reconnecting");
  });
  setStatus("connecting", "connecting");
  renderConnections();
  openFeed();
});
