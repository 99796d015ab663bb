// The Northbridge assistant widget. Embed with one <div id="erp-assistant"> and one <script>;
// it speaks Socket.IO (Engine.IO v4 over WebSocket) in the protocol of Rasa's socketio channel.
// Text from the user and the bot is set with textContent, never parsed as HTML.
// The session id is a token the gateway issues (session_confirm); the widget only keeps it.
"use strict";

(function () {
  const script = document.currentScript;
  const scriptUrl = new URL(script.src, window.location.href);
  const server = new URL(script.dataset.server || scriptUrl.origin);
  // The widget's own words in English or Simplified Chinese: data-lang="zh" (or "en") on
  // the script tag, else the browser's language. The bot answers each message in its own
  // language; this one is sent along as a hint for messages of only an order number.
  const TEXTS = {
    en: {
      title: "Northbridge Assistant",
      greeting: "Hi! I can check an order or a delivery, stock of a product, or an invoice.",
      open: "Chat with ", close: "Close chat", log: "Conversation", typing: " is typing",
      input: "Your message", placeholder: "Type your question…", send: "Send",
      image: "Image from the assistant", connecting: "connecting…", reconnecting: "reconnecting…",
    },
    zh: {
      title: "Northbridge 智能助手",
      greeting: "您好！我可以帮您查询订单或物流、产品库存和发票。",
      open: "打开对话：", close: "关闭对话", log: "对话记录", typing: "正在输入",
      input: "您的消息", placeholder: "请输入您的问题…", send: "发送",
      image: "助手发送的图片", connecting: "正在连接…", reconnecting: "正在重新连接…",
    },
  };
  const language = /^zh/i.test(script.dataset.lang || navigator.language || "") ? "zh" : "en";
  const words = TEXTS[language];
  const title = script.dataset.title || words.title;
  const greeting = script.dataset.greeting || words.greeting;
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
  const root = el("div", "erpw", { "data-state": "connecting", lang: language === "zh" ? "zh-CN" : "en" });
  const launcher = el("button", "erpw-launcher", {
    type: "button", "aria-label": words.open + title, "aria-expanded": "false",
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
  const close = el("button", "erpw-close", { type: "button", "aria-label": words.close });
  close.textContent = "×";
  header.append(heading, status, close);
  const log = el("ol", "erpw-log", { "aria-live": "polite", "aria-label": words.log });
  const typing = el("div", "erpw-typing", { "aria-label": title + words.typing });
  typing.append(el("span"), el("span"), el("span"));
  typing.hidden = true;
  const form = el("form", "erpw-composer", { autocomplete: "off" });
  const input = el("textarea", "erpw-input", {
    rows: "1", maxlength: "2000", "aria-label": words.input,
    placeholder: words.placeholder,
  });
  const send = el("button", "erpw-send", { type: "submit" });
  send.textContent = words.send;
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
      item.append(el("img", "erpw-image", { src: message.image, alt: words.image, loading: "lazy" }));
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
      setState("offline", words.reconnecting);
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  function say(text, shown) {
    disableButtons();
    addMessage("user", { text: shown });
    const customData = { page: location.pathname, language };
    const message = { message: text, session_id: sessionId, customData };
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

  setState("connecting", words.connecting);
  setOpen(storage.get(OPEN_KEY) === "1");
  connect();
})();
