// The Northbridge assistant widget. Embed with one <div id="erp-assistant"> and one <script>;
// it speaks Socket.IO (Engine.IO v4 over WebSocket) in the protocol of Rasa's socketio channel.
// Text from the user and the bot is set with textContent, never parsed as HTML.
// The session id is a token the gateway issues (session_confirm); the widget only keeps it.
"use strict";

(function () {
  const script = document.currentScript;
  const scriptUrl = new URL(script.src, window.location.href);
  const server = new URL(script.dataset.server || scriptUrl.origin);
  const title = script.dataset.title || "Northbridge Assistant";
  const greeting =
    script.dataset.greeting ||
    "Hi! I can check an order or a delivery, stock of a product, or an invoice.";
  const SESSION_KEY = "erp-assistant-session";
  const OPEN_KEY = "erp-assistant-open";
  const URL_OR_LINK = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"']+)/g;

  const storage = {
    get(key) {
      try { return window.localStorage.getItem(key); } catch (error) { return null; }
    },
    set(key, value) {
      try { window.localStorage.setItem(key, value); } catch (error) { /* storage disabled */ }
    },
  };

  let sessionId = storage.get(SESSION_KEY) || "";

  // --- the page ------------------------------------------------------------------------

  function el(tag, className, attributes) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, value);
    return element;
  }

  const style = el("link", "", { rel: "stylesheet", href: new URL("widget.css", scriptUrl).href });
  document.head.append(style);

  const mount = document.getElementById(script.dataset.target || "erp-assistant") ||
    document.body.appendChild(el("div", "", { id: "erp-assistant" }));
  const root = el("div", "erpw", { "data-state": "connecting" });
  const launcher = el("button", "erpw-launcher", {
    type: "button", "aria-label": "Chat with " + title, "aria-expanded": "false",
  });
  const SVG = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(SVG, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z");
  icon.append(path);
  launcher.append(icon);
  const panel = el("section", "erpw-panel", { role: "dialog", "aria-label": title });
  panel.hidden = true;
  const header = el("header", "erpw-header");
  const heading = el("strong", "erpw-title");
  heading.textContent = title;
  const status = el("span", "erpw-status", { "aria-live": "polite" });
  const close = el("button", "erpw-close", { type: "button", "aria-label": "Close chat" });
  close.textContent = "×";
  header.append(heading, status, close);
  const log = el("ol", "erpw-log", { "aria-live": "polite", "aria-label": "Conversation" });
  const typing = el("div", "erpw-typing", { "aria-label": title + " is typing" });
  typing.append(el("span"), el("span"), el("span"));
  typing.hidden = true;
  const form = el("form", "erpw-composer", { autocomplete: "off" });
  const input = el("textarea", "erpw-input", {
    rows: "1", maxlength: "2000", "aria-label": "Your message",
    placeholder: "Type your question…",
  });
  const send = el("button", "erpw-send", { type: "submit" });
  send.textContent = "Send";
  form.append(input, send);
  panel.append(header, log, typing, form);
  root.append(panel, launcher);
  mount.append(root);

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    root.classList.toggle("erpw-open", open);
    storage.set(OPEN_KEY, open ? "1" : "0");
    if (open) {
      log.scrollTop = log.scrollHeight;
      input.focus();
    }
  }
  launcher.addEventListener("click", () => setOpen(panel.hidden));
  close.addEventListener("click", () => setOpen(false));

  function linkify(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_OR_LINK)) {
      let url = match[2] || match[3];
      let end = match.index + match[0].length;
      if (match[3]) {
        url = url.replace(/[.,;:!?)\]}'"]+$/, "");
        end = match.index + url.length;
      }
      fragment.append(text.slice(last, match.index));
      const link = el("a", "", { href: url, target: "_blank", rel: "noopener noreferrer" });
      link.textContent = match[1] || url;
      fragment.append(link);
      last = end;
    }
    fragment.append(text.slice(last));
    return fragment;
  }

  function disableButtons() {
    log.querySelectorAll(".erpw-buttons button").forEach((b) => (b.disabled = true));
  }

  function addMessage(role, message) {
    const item = el("li", "erpw-msg erpw-" + role);
    if (message.text) {
      const bubble = el("div", "erpw-bubble");
      bubble.append(linkify(message.text));
      item.append(bubble);
    }
    if (message.image && /^https?:\/\//.test(message.image)) {
      item.append(el("img", "erpw-image", { src: message.image, alt: "Image from the assistant", loading: "lazy" }));
    }
    if (message.buttons && message.buttons.length) {
      const row = el("div", "erpw-buttons");
      for (const button of message.buttons) {
        const element = el("button", "", { type: "button" });
        element.textContent = button.title;
        element.addEventListener("click", () => say(button.payload, button.title));
        row.append(element);
      }
      item.append(row);
    }
    if (item.childElementCount) {
      log.append(item);
      log.scrollTop = log.scrollHeight;
    }
  }

  function showHistory(messages) {
    log.replaceChildren();
    const intro = el("li", "erpw-msg erpw-bot erpw-intro");
    const bubble = el("div", "erpw-bubble");
    bubble.textContent = greeting;
    intro.append(bubble);
    log.append(intro);
    let lastUser = -1;
    messages.forEach((m, i) => { if (m.role === "user") lastUser = i; });
    messages.forEach((message, index) => {
      addMessage(message.role, message);
      // Only the buttons of the bot's latest answer can still be clicked.
      if (index <= lastUser) disableButtons();
    });
  }

  // --- Socket.IO over WebSocket ----------------------------------------------------------

  let socket = null;
  let connected = false;
  let retryDelay = 500;
  let outbox = [];
  let draft = null;

  function setState(state, text) {
    root.dataset.state = state;
    status.textContent = text;
    send.disabled = state !== "ready";
  }

  function emit(event, data) {
    socket.send("42" + JSON.stringify([event, data]));
  }

  function onEvent(event, data) {
    if (event === "session_confirm") {
      const confirmed = typeof data === "string" ? data : data && data.session_id;
      // Also mid-conversation: after a verification the gateway rotates the token.
      if (confirmed) {
        sessionId = confirmed;
        storage.set(SESSION_KEY, sessionId);
      }
      root.dataset.session = sessionId;
    } else if (event === "session_history") {
      showHistory((data && data.messages) || []);
      setState("ready", "");
      window.performance.mark("erp-widget-ready");
      const pending = outbox;
      outbox = [];
      for (const message of pending) emit("user_uttered", message);
    } else if (event === "bot_typing") {
      typing.hidden = !(data && data.typing);
      if (!typing.hidden) log.scrollTop = log.scrollHeight;
    } else if (event === "bot_streaming" && data && typeof data.text === "string") {
      // A generated answer as it is written; the final bot_uttered replaces it.
      if (!draft) {
        draft = el("li", "erpw-msg erpw-bot erpw-draft", { "aria-busy": "true" });
        draft.append(el("div", "erpw-bubble"));
        log.append(draft);
      }
      draft.firstChild.textContent = data.text;
      log.scrollTop = log.scrollHeight;
    } else if (event === "bot_uttered" && data) {
      if (draft) { draft.remove(); draft = null; }
      const buttons = (data.quick_replies || data.buttons || []).map((b) => ({
        title: b.title, payload: b.payload,
      }));
      const image = data.attachment && data.attachment.payload && data.attachment.payload.src;
      addMessage("bot", { text: data.text, buttons: buttons, image: image });
    }
  }

  function connect() {
    const url = new URL("/socket.io/", server);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.search = "EIO=4&transport=websocket";
    socket = new WebSocket(url.href);
    socket.addEventListener("message", (frame) => {
      const packet = String(frame.data);
      if (packet === "2") {
        socket.send("3"); // Engine.IO ping → pong
      } else if (packet[0] === "0") {
        socket.send("40"); // Engine.IO open → Socket.IO connect to "/"
      } else if (packet.startsWith("40")) {
        connected = true;
        retryDelay = 500;
        // Another tab may hold a newer token of this conversation (a rotation).
        sessionId = storage.get(SESSION_KEY) || sessionId;
        emit("session_request", { session_id: sessionId });
      } else if (packet.startsWith("42")) {
        const [event, data] = JSON.parse(packet.slice(2));
        onEvent(event, data);
      }
    });
    socket.addEventListener("close", () => {
      connected = false;
      typing.hidden = true;
      setState("offline", "reconnecting…");
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  function say(text, shown) {
    disableButtons();
    addMessage("user", { text: shown });
    const message = { message: text, session_id: sessionId, customData: { page: location.pathname } };
    if (connected && root.dataset.state === "ready") {
      emit("user_uttered", message);
      typing.hidden = false;
    } else {
      outbox.push(message);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    input.style.height = "";
    say(text, text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  });

  setState("connecting", "connecting…");
  setOpen(storage.get(OPEN_KEY) === "1");
  connect();
})();
