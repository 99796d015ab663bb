// The agent console: log in, watch the handoff queue live (Server-Sent Events from
// /agent/api/events), claim a conversation, read its transcript and context, reply (canned
// replies with one click) and hand it back to the bot. Every text from customers, the bot
// and agents is set with textContent, never parsed as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const API = "/agent/api";
  const ROLE_LABELS = { user: "Customer", bot: "Assistant", agent: "Agent", system: "Notice" };
  // Charts the Ask panel was sent on this page, by digest: the transcript keeps only a line
  // and the digest, so a chart shows while the page is open and its line after a reload.
  const MAX_CHARTS = 20;
  const CHART_SRC = "data:image/png;base64,";

  const state = {
    me: null,
    handoffs: new Map(),
    selected: null,
    detail: null,
    canned: [],
    events: null,
    charts: new Map(),
  };

  // --- HTTP --------------------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.me) headers["X-CSRF-Token"] = state.me.csrf_token;
    const response = await fetch(API + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    if (response.status === 401 && path !== "/login") {
      showLogin("Your session has ended. Please log in again.");
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function el(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  function ago(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function clock(epoch) {
    return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function triggerText(trigger) {
    if (!trigger) return "";
    const score = typeof trigger.score === "number" ? " " + trigger.score.toFixed(2) : "";
    return trigger.rule.replace(/_/g, " ") + score;
  }

  // --- login ---------------------------------------------------------------------------

  function showLogin(message) {
    stopEvents();
    state.me = null;
    $("ac-app").hidden = true;
    $("ac-logout").hidden = true;
    $("ac-who").textContent = "";
    $("ac-conn").textContent = "";
    $("ac-login").hidden = false;
    $("ac-login-error").textContent = message || "";
    $("ac-username").focus();
  }

  $("ac-login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("ac-login-error").textContent = "";
    const result = await api("POST", "/login", {
      username: $("ac-username").value,
      password: $("ac-password").value,
    });
    $("ac-password").value = "";
    if (!result.ok) {
      $("ac-login-error").textContent = result.data.error || "Login failed (" + result.status + ").";
      return;
    }
    showApp(result.data);
  });

  $("ac-logout").addEventListener("click", async () => {
    await api("POST", "/logout");
    showLogin("You are logged out.");
  });

  // --- the app -----------------------------------------------------------------------

  function showApp(me) {
    state.me = me;
    $("ac-login").hidden = true;
    $("ac-app").hidden = false;
    $("ac-logout").hidden = false;
    $("ac-who").textContent = me.display_name + " (" + me.username + ")";
    $("ac-audit").hidden = !(me.roles || []).includes("admin");
    $("ac-analytics").hidden = !(me.roles || []).some((r) => r === "admin" || r === "support");
    $("ac-ask").hidden = !me.ask;
    if (me.ask) loadAsk();
    loadCanned();
    startEvents();
  }

  // --- the audit trail (admins) ------------------------------------------------------

  $("ac-audit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    const conversation = $("ac-audit-conversation").value.trim();
    const customer = $("ac-audit-customer").value.trim();
    if (conversation) query.set("conversation", conversation);
    if (customer) query.set("customer", customer);
    $("ac-audit-error").textContent = "";
    const response = await api("GET", "/audit?" + query.toString());
    if (!response.ok) {
      $("ac-audit-error").textContent = (response.data && response.data.error) || "Could not load the audit trail.";
      return;
    }
    const rows = $("ac-audit-rows");
    rows.replaceChildren();
    for (const e of response.data.events) {
      const tr = document.createElement("tr");
      for (const value of [e.at, e.channel, e.conversation, e.actor, e.customer || "-",
                           e.operation, e.record || "-", e.outcome, e.ms.toFixed(1)]) {
        tr.appendChild(el("td", "", String(value)));
      }
      rows.appendChild(tr);
    }
  });

  // --- the Ask panel: the agent's own conversation with the assistant, as staff ---------

  async function loadAsk() {
    const response = await api("GET", "/ask");
    if (!response.ok) return;
    const roles = (response.data.roles || []).join(", ") || "none";
    $("ac-ask-rights").textContent = "(your roles: " + roles + "; " + (response.data.may_change_orders
      ? "you may change orders)" : "look-ups only: changing orders needs the writer role)");
    renderTranscript($("ac-ask-log"), response.data.transcript, ask);
  }

  async function ask(text) {
    if (!text) return;
    $("ac-ask-send").disabled = true;
    $("ac-ask-error").textContent = "";
    try {
      const response = await api("POST", "/ask", { text: text });
      if (!response.ok) {
        $("ac-ask-error").textContent = (response.data && response.data.error) ||
          "The assistant did not answer (" + response.status + ").";
        return;
      }
      $("ac-ask-text").value = "";
      keepCharts(response.data.messages || []);
    } finally {
      $("ac-ask-send").disabled = false;
    }
    await loadAsk();
  }

  function keepCharts(messages) {
    for (const message of messages) {
      const chart = message.chart;
      if (!chart || typeof chart.src !== "string" || !chart.src.startsWith(CHART_SRC)) continue;
      state.charts.set(chart.digest, chart);
      if (state.charts.size > MAX_CHARTS) state.charts.delete(state.charts.keys().next().value);
    }
  }

  function chartImage(chart) {
    const img = document.createElement("img");
    img.className = "ac-chart";
    img.src = chart.src;
    img.alt = chart.alt;
    img.title = chart.title;
    img.width = 800;
    img.height = 400;
    return img;
  }

  $("ac-ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask($("ac-ask-text").value.trim());
  });

  // A colleague's reply (when the agent asked for a person) shows up without a reload.
  window.setInterval(() => { if (state.me && state.me.ask) loadAsk(); }, 15000);

  function stopEvents() {
    if (state.events) state.events.close();
    state.events = null;
    $("ac-app").dataset.stream = "closed";
  }

  function startEvents() {
    stopEvents();
    const source = new EventSource(API + "/events");
    state.events = source;
    $("ac-conn").textContent = "connecting…";
    source.addEventListener("open", () => {
      $("ac-conn").textContent = "live";
      $("ac-app").dataset.stream = "open";
    });
    source.addEventListener("snapshot", (event) => {
      const data = JSON.parse(event.data);
      state.handoffs = new Map(data.handoffs.map((h) => [h.id, h]));
      renderQueue();
      if (state.selected !== null) refreshDetail();
    });
    source.addEventListener("queue", (event) => {
      const data = JSON.parse(event.data);
      const handoff = data.handoff;
      window.performance.mark("agent-event-" + data.type + "-" + handoff.id);
      if (handoff.status === "resolved") state.handoffs.delete(handoff.id);
      else state.handoffs.set(handoff.id, handoff);
      renderQueue();
      if (handoff.id === state.selected) refreshDetail();
    });
    source.addEventListener("expired", () => {
      showLogin("Your session has expired. Please log in again.");
    });
    source.addEventListener("error", async () => {
      $("ac-conn").textContent = "reconnecting…";
      $("ac-app").dataset.stream = "reconnecting";
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (an expired session answers 401): check and retry.
        const me = await api("GET", "/me");
        if (me.ok && state.events === source) window.setTimeout(startEvents, 2000);
      }
    });
  }

  // --- queue ---------------------------------------------------------------------------

  function renderQueue() {
    const list = $("ac-queue-list");
    const now = Date.now() / 1000;
    const items = Array.from(state.handoffs.values()).sort(
      (a, b) => b.priority - a.priority || a.created_at - b.created_at || a.id - b.id
    );
    list.replaceChildren();
    for (const handoff of items) {
      const item = el("li", "ac-item ac-" + handoff.status);
      item.dataset.handoffId = String(handoff.id);
      item.dataset.status = handoff.status;
      item.dataset.conversation = handoff.conversation_id;
      if (handoff.id === state.selected) item.classList.add("ac-selected");
      const button = el("button", "ac-item-button");
      button.type = "button";
      const top = el("div", "ac-item-top");
      top.append(
        el("span", "ac-badge ac-channel", handoff.channel),
        el("span", "ac-trigger", triggerText(handoff.trigger)),
        el("span", "ac-wait", ago(now - handoff.created_at))
      );
      const summary = el("div", "ac-item-summary", (handoff.summary || "").split("\n")[0]);
      const bottom = el("div", "ac-item-bottom");
      bottom.append(
        el("span", "ac-priority", "priority " + handoff.priority),
        el("span", "ac-state",
          handoff.status === "assigned" ? "with " + handoff.agent : "waiting")
      );
      button.append(top, summary, bottom);
      button.addEventListener("click", () => select(handoff.id));
      item.append(button);
      list.append(item);
    }
    $("ac-count").textContent = items.length ? "(" + items.length + ")" : "";
    $("ac-queue-empty").hidden = items.length > 0;
  }

  window.setInterval(() => { if (state.me) renderQueue(); }, 5000);

  // --- one conversation ----------------------------------------------------------------

  async function select(id) {
    state.selected = id;
    $("ac-notice").textContent = "";
    $("ac-resolve-form").hidden = true;
    $("ac-assign-form").hidden = true;
    renderQueue();
    await refreshDetail();
    $("ac-reply").focus();
  }

  async function refreshDetail() {
    const id = state.selected;
    if (id === null) return;
    const result = await api("GET", "/handoffs/" + id);
    if (id !== state.selected) return;
    if (!result.ok) {
      $("ac-notice").textContent = result.data.error || "Could not load the conversation.";
      return;
    }
    state.detail = result.data;
    renderDetail();
  }

  function renderDetail() {
    const handoff = state.detail.handoff;
    $("ac-placeholder").hidden = true;
    $("ac-detail").hidden = false;
    $("ac-context").hidden = false;
    $("ac-detail").dataset.handoffId = String(handoff.id);
    $("ac-detail").dataset.status = handoff.status;
    $("ac-title").textContent =
      "#" + handoff.id + " · " + handoff.channel + " · " + handoff.conversation_id;
    const mine = handoff.status === "assigned" && handoff.agent === state.me.username;
    $("ac-claim").hidden = handoff.status !== "waiting";
    $("ac-resolve").hidden = handoff.status === "resolved" || (handoff.status === "assigned" && !mine);
    $("ac-assign").hidden = handoff.status === "resolved" || (handoff.status === "assigned" && !mine);
    $("ac-send").disabled = !mine;
    $("ac-reply").disabled = !mine;
    if (handoff.status === "assigned" && !mine) {
      $("ac-notice").textContent = handoff.agent + " is handling this conversation.";
    } else if (handoff.status === "resolved") {
      $("ac-notice").textContent = "Resolved by " + (handoff.resolved_by || handoff.agent) +
        (handoff.note ? ": " + handoff.note : ".");
    } else if (handoff.status === "waiting") {
      $("ac-notice").textContent = "Claim the conversation to reply.";
    } else if ($("ac-notice").dataset.kind !== "error") {
      $("ac-notice").textContent = "";
    }

    renderTranscript($("ac-transcript"), state.detail.transcript, null);

    $("ac-summary").textContent = handoff.summary || "(no summary)";
    $("ac-trigger").textContent = triggerText(handoff.trigger) +
      (handoff.trigger && handoff.trigger.detail ? " — " + handoff.trigger.detail : "");
    // The server decides what counts as verified (handoff.context); raw slots are never
    // shown, so nothing the customer merely typed can look verified.
    const facts = $("ac-slots");
    facts.replaceChildren();
    const context = handoff.context || [];
    if (!context.length) facts.append(el("dd", "ac-muted", "No details collected."));
    for (const fact of context) {
      const label = fact.label.charAt(0).toUpperCase() + fact.label.slice(1);
      facts.append(el("dt", "", label));
      const value = el("dd", fact.status ? "ac-fact-" + fact.status : "", fact.value);
      if (fact.note) value.append(el("span", "ac-fact-note", " (" + fact.note + ")"));
      facts.append(value);
    }
  }

  // One transcript as a list; with ``onButton`` the buttons of the last reply are clickable.
  function renderTranscript(log, entries, onButton) {
    log.replaceChildren();
    entries.forEach((entry, index) => {
      const item = el("li", "ac-msg ac-" + entry.role);
      item.dataset.role = entry.role;
      const meta = el("div", "ac-meta",
        (entry.role === "agent" && entry.agent ? entry.agent : ROLE_LABELS[entry.role] || entry.role) +
        " · " + clock(entry.at));
      item.append(meta);
      if (entry.text) item.append(el("div", "ac-text", entry.text));
      const chart = entry.chart && state.charts.get(entry.chart.digest);
      if (chart) item.append(chartImage(chart));
      if (entry.buttons && entry.buttons.length) {
        const row = el("div", "ac-chips");
        const live = onButton && index === entries.length - 1;
        for (const button of entry.buttons) {
          const chip = el(live ? "button" : "span", "ac-chip", button.title);
          if (live) {
            chip.type = "button";
            chip.addEventListener("click", () => onButton(button.payload));
          }
          row.append(chip);
        }
        item.append(row);
      }
      log.append(item);
    });
    log.scrollTop = log.scrollHeight;
  }

  function notice(text) {
    $("ac-notice").textContent = text;
    $("ac-notice").dataset.kind = "error";
    window.setTimeout(() => { $("ac-notice").dataset.kind = ""; }, 5000);
  }

  $("ac-claim").addEventListener("click", async () => {
    const id = state.selected;
    const result = await api("POST", "/handoffs/" + id + "/claim");
    if (!result.ok) notice(result.data.error || "Could not claim (" + result.status + ").");
    await refreshDetail();
    if (result.ok) $("ac-reply").focus();
  });

  async function sendReply() {
    const text = $("ac-reply").value.trim();
    if (!text || state.selected === null) return;
    $("ac-send").disabled = true;
    const result = await api("POST", "/handoffs/" + state.selected + "/reply", { text: text });
    $("ac-send").disabled = false;
    if (!result.ok) {
      notice(result.data.error || "Could not send (" + result.status + ").");
      return;
    }
    $("ac-reply").value = "";
    await refreshDetail();
    $("ac-reply").focus();
  }

  $("ac-reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply();
  });
  $("ac-reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendReply();
    }
  });

  $("ac-assign").addEventListener("click", async () => {
    $("ac-assign-form").hidden = false;
    const result = await api("GET", "/agents");
    const list = $("ac-agents");
    list.replaceChildren();
    if (result.ok) {
      for (const agent of result.data.agents) {
        if (agent.username === state.me.username) continue;
        const option = el("option", "", agent.display_name);
        option.value = agent.username;
        list.append(option);
      }
    }
    $("ac-assign-to").focus();
  });
  $("ac-assign-cancel").addEventListener("click", () => { $("ac-assign-form").hidden = true; });
  $("ac-assign-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const to = $("ac-assign-to").value.trim();
    if (!to || state.selected === null) return;
    const result = await api("POST", "/handoffs/" + state.selected + "/assign", { agent: to });
    if (!result.ok) {
      notice(result.data.error || "Could not assign (" + result.status + ").");
      return;
    }
    $("ac-assign-form").hidden = true;
    $("ac-assign-to").value = "";
    await refreshDetail();
  });

  $("ac-resolve").addEventListener("click", () => {
    $("ac-resolve-form").hidden = false;
    $("ac-note").focus();
  });
  $("ac-resolve-cancel").addEventListener("click", () => { $("ac-resolve-form").hidden = true; });
  $("ac-resolve-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = state.selected;
    const result = await api("POST", "/handoffs/" + id + "/resolve", { note: $("ac-note").value });
    if (!result.ok) {
      notice(result.data.error || "Could not resolve (" + result.status + ").");
      return;
    }
    $("ac-note").value = "";
    $("ac-resolve-form").hidden = true;
    await refreshDetail();
  });

  // --- canned replies ------------------------------------------------------------------

  async function loadCanned() {
    const result = await api("GET", "/canned");
    if (!result.ok) return;
    state.canned = result.data.replies;
    renderCanned();
  }

  function renderCanned() {
    const box = $("ac-canned");
    box.replaceChildren();
    for (const reply of state.canned) {
      const chip = el("span", "ac-canned-item");
      const use = el("button", "ac-canned-use", reply.title);
      use.type = "button";
      use.title = reply.text;
      use.dataset.cannedId = String(reply.id);
      use.addEventListener("click", () => {
        const box = $("ac-reply");
        box.value = reply.text.replace(/\{agent\}/g, state.me.display_name);
        box.focus();
      });
      chip.append(use);
      if (reply.source === "agent") {
        const remove = el("button", "ac-canned-remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", "Delete canned reply " + reply.title);
        remove.addEventListener("click", async () => {
          const result = await api("DELETE", "/canned/" + reply.id);
          if (!result.ok) notice(result.data.error || "Could not delete.");
          loadCanned();
        });
        chip.append(remove);
      }
      box.append(chip);
    }
  }

  $("ac-canned-save").addEventListener("click", async () => {
    const result = await api("POST", "/canned", {
      title: $("ac-canned-title").value,
      text: $("ac-canned-text").value,
    });
    if (!result.ok) {
      notice(result.data.error || "Could not save the canned reply.");
      return;
    }
    $("ac-canned-title").value = "";
    $("ac-canned-text").value = "";
    loadCanned();
  });

  // --- start ---------------------------------------------------------------------------

  (async function boot() {
    const result = await api("GET", "/me");
    if (result.ok) showApp(result.data);
    else showLogin("");
  })();
})();
