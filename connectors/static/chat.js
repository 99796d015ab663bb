// The built-in chat page: talks to POST /api/messages; text is set with textContent, never as HTML.
"use strict";

(function () {
  const endpoint = document.querySelector(".chat").dataset.endpoint;
  const log = document.getElementById("log");
  const typing = document.getElementById("typing");
  const form = document.getElementById("composer");
  const input = document.getElementById("input");
  const sendButton = document.getElementById("send");
  const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/g;
  let pending = 0;

  // crypto.randomUUID needs a secure context; getRandomValues works over plain http too.
  function newSenderId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function senderId() {
    try {
      let id = localStorage.getItem("erp-assistant-sender-id");
      if (!id) {
        id = newSenderId();
        localStorage.setItem("erp-assistant-sender-id", id);
      }
      return id;
    } catch (error) {
      // Storage can be disabled (private browsing); keep the id for this page only.
      window.erpSenderId = window.erpSenderId || newSenderId();
      return window.erpSenderId;
    }
  }

  // Text nodes for plain text and <a> for URLs: user and bot text is never parsed as HTML.
  function linkify(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      let url = match[0].replace(/[.,;:!?)\]]+$/, "");
      fragment.append(text.slice(last, match.index));
      const link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      fragment.append(link);
      last = match.index + url.length;
    }
    fragment.append(text.slice(last));
    return fragment;
  }

  function addMessage(who, parts) {
    const item = document.createElement("li");
    item.className = "msg msg-" + who;
    if (parts.text) {
      const bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.append(linkify(parts.text));
      item.append(bubble);
    }
    if (parts.image && /^https?:\/\//.test(parts.image)) {
      const image = document.createElement("img");
      image.src = parts.image;
      image.alt = "Image from the assistant";
      image.loading = "lazy";
      item.append(image);
    }
    if (parts.buttons && parts.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const button of parts.buttons) {
        const element = document.createElement("button");
        element.type = "button";
        element.textContent = button.title;
        element.addEventListener("click", () => {
          row.querySelectorAll("button").forEach((b) => (b.disabled = true));
          send(button.payload, button.title);
        });
        row.append(element);
      }
      item.append(row);
    }
    if (item.childElementCount) {
      log.append(item);
      log.scrollTop = log.scrollHeight;
    }
  }

  function addError(text) {
    const item = document.createElement("li");
    item.className = "msg msg-bot msg-error";
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    item.append(bubble);
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }

  function setWaiting(delta) {
    pending += delta;
    typing.hidden = pending === 0;
    sendButton.disabled = pending > 0;
    if (pending > 0) log.scrollTop = log.scrollHeight;
  }

  async function send(text, shown) {
    addMessage("user", { text: shown });
    setWaiting(1);
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender_id: senderId(), text: text, metadata: { page: "web-chat" } }),
      });
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      if (!response.ok) {
        const reason = data && data.error ? data.error : "HTTP " + response.status;
        addError(response.status === 503 ? reason : "Your message was not accepted: " + reason);
        return;
      }
      const messages = (data && data.messages) || [];
      if (!messages.length) addMessage("bot", { text: "(no reply)" });
      for (const message of messages) addMessage("bot", message);
    } catch (error) {
      addError("Could not reach the assistant. Check your connection and try again.");
    } finally {
      setWaiting(-1);
      input.focus();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || pending > 0) return;
    input.value = "";
    input.style.height = "";
    send(text, text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  });

  input.focus();
})();
