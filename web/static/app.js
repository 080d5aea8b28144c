// langso phone page: talks to /api/v1 with the session cookie and the CSRF header,
// and listens to /api/v1/live (Server-Sent Events) so the page follows the house.
"use strict";
const T = JSON.parse(document.getElementById("strings").textContent);
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => Array.from(el.querySelectorAll(s));

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v); else if (v !== null && v !== undefined) el.setAttribute(k, v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

function say(message, isError) {
  const line = $("#status-line");
  line.textContent = message;
  line.className = isError ? "error" : "notice";
  line.hidden = !message;
  line.setAttribute("role", isError ? "alert" : "status");
}

async function api(method, url, body) {
  const opts = { method, headers: { "X-CSRFToken": CSRF, Accept: "application/json" }, credentials: "same-origin" };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const resp = await fetch(url, opts);
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json().catch(() => null) : await resp.blob();
  // the login ended (the login page says why), or the password is someone else's: there first, with what was typed kept
  const away = resp.status === 401 ? "/login?next=" + encodeURIComponent(location.pathname)
    : resp.status === 403 && data && data.kind === "password_must_change" ? "/password" : null;
  if (away) { keepDraft(); location.href = away; throw new Error(""); }
  if (!resp.ok) { const e = new Error((data && data.error) || fill(T.err_status, { code: resp.status })); e.status = resp.status; throw e; }
  return data;
}

// what was typed in the page's forms (not passwords or files), kept in this tab while the
// head logs in again, and put back when the page opens again
const DRAFT = "langso-draft:" + location.pathname;
const draftFields = () => $$("form[id]").flatMap((form) => Array.from(form.elements)
  .filter((f) => f.name && !["password", "file", "hidden", "submit", "button"].includes(f.type)));
function keepDraft() {
  const fields = draftFields().map((f) => [f.form.id, f.name, f.type === "checkbox" ? f.checked : f.value]);
  if (fields.length) sessionStorage.setItem(DRAFT, JSON.stringify(fields));
}
function restoreDraft() {
  const kept = JSON.parse(sessionStorage.getItem(DRAFT) || "null");
  sessionStorage.removeItem(DRAFT);
  const fields = draftFields();
  if (!kept || kept.length !== fields.length) return;  // another version of the page
  kept.forEach(([form, name, value], i) => {
    const f = fields[i];
    if (f.form.id !== form || f.name !== name) return;
    if (f.type === "checkbox") f.checked = value; else f.value = value;
  });
}

// a failed call as the village head reads it: each field named in the page's language,
// then the server's detail (which names the fix; in the page's language for a session).
// A path names the field the head filled by its most precise known part:
// "payload.stream_url" is the stream address, "days.1" the days, "payload" the content.
function problem(e) {
  if (!e.status) return e.message ? T.no_answer : "";  // a tap is not retried by the page: the head taps again
  if (/CSRF/i.test(e.message)) return T.err_csrf;
  const general = { 403: T.err_forbidden, 409: T.err_conflict, 413: T.err_too_large, 415: T.err_type, 429: T.err_busy, 503: T.err_unavailable }[e.status];
  const detail = e.message.split("; ").map((part) => {
    const m = /^([a-z_]+(?:\.[a-z0-9_]+)*):\s*(.*)$/s.exec(part);
    const field = m && m[1].split(".").reverse().map((name) => T["field_" + name]).find(Boolean);
    return field ? `${field}: ${m[2]}` : part;
  }).join("; ");
  return general ? `${general} (${detail})` : detail;
}

// the link is down: said, unless the line shows an error the head has not read yet (a tap
// that failed, e.g. "tap Phát again"), which a refresh in the background must not replace
function offline() {
  const line = $("#status-line");
  if (line.hidden || line.className !== "error") say(T.offline, false);
}
// a refresh in the background (not a tap) failed
const refused = (e) => (e.status ? say(problem(e), true) : e.message && offline());  // no message: the page is leaving

// a translated sentence with its %(name)s places filled: fill("%(label)s bật lúc %(start)s", {label: "Tivi", start: "18:00"})
const fill = (words, values) => words.replace(/%\((\w+)\)s/g, (_, name) => values[name] ?? "");

// "18:05 23/11/2026" in the house's time zone, as the server writes it
const when = (t) => t ? new Date(t * 1000).toLocaleString(document.documentElement.lang === "en" ? "en-GB" : "vi-VN",
  { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", year: "numeric", hour12: false, timeZone: document.body.dataset.tz }) : "";
// "web:lan" -> "lan", "schedule:3" -> "lịch 3", "system:broadcast" -> "phát thông báo (tự động)":
// the longest known start of the actor worded, the rest as it is (as web.i18n.who does on the server)
function who(actor) {
  if (!actor) return "";
  const parts = actor.split(":");
  for (let n = parts.length; n > 0; n--) {
    const label = T["actor_" + parts.slice(0, n).join(":")];
    if (label !== undefined) return [label, parts.slice(n).join(":")].filter(Boolean).join(" ");
  }
  return actor;
}

// live updates ------------------------------------------------------------------------
const handlers = {};
function live(wasLost = false) {
  if (!window.EventSource) return;
  const src = new EventSource("/api/v1/live");
  for (const topic of ["relay", "broadcast.state", "broadcast.log", "camera.motion", "camera.event", "resync"]) {
    src.addEventListener(topic, (ev) => { (handlers[topic] || []).forEach((fn) => fn(JSON.parse(ev.data || "{}"))); });
  }
  // the link dropped (3G): what happened meanwhile was not sent to this page, so once the
  // stream is back the page reads its data again, as after a resync
  let lost = wasLost;
  src.onerror = () => {
    lost = true; offline();
    // a stream the house refused (too many pages open: 503) is given up by the browser, not
    // retried as a dropped link is: ask again in a while, or the page never follows again
    if (src.readyState === EventSource.CLOSED) setTimeout(() => live(true), 15000);
  };
  src.onopen = () => {
    if ($("#status-line").textContent === T.offline) say("");
    if (lost) { lost = false; (handlers.resync || []).forEach((fn) => fn({})); }
  };
}
const on = (topic, fn) => (handlers[topic] = handlers[topic] || []).push(fn);

// pages ---------------------------------------------------------------------------------
function showRelay(r) {
  const tile = $(`[data-relay="${CSS.escape(r.name)}"]`);
  if (!tile) return;
  tile.className = "tile " + (r.on ? "on" : "off");
  tile.setAttribute("aria-pressed", r.on ? "true" : "false");
  $(".state", tile).textContent = r.on ? T.on : T.off;
  const by = r.actor || r.changed_by, at = r.at || r.changed_at;
  if (at) $(".who", tile).textContent = `${who(by)} · ${when(at)}`;
}

const pages = {
  home() {
    // a tap asks for what the tile offers (on when it shows off), not a toggle: a tap sent
    // twice, or from a tile not yet updated, never switches the equipment the other way
    $$("[data-relay]").forEach((tile) => tile.addEventListener("click", async () => {
      tile.classList.add("busy");
      const state = tile.classList.contains("on") ? "off" : "on";
      try { showRelay(await api("POST", `/api/v1/relays/${encodeURIComponent(tile.dataset.relay)}`, { state })); say(""); }
      catch (e) { say(e.status === 409 ? `${T.too_soon} (${e.message})` : problem(e), true); }
      finally { tile.classList.remove("busy"); }
    }));
    on("relay", showRelay);
    // from the status (any role: a viewer's tiles follow too)
    on("resync", async () => { try { (await api("GET", "/api/v1/status")).relays.forEach(showRelay); } catch (e) { refused(e); } });
  },

  broadcasts() {
    const form = $("#say");
    // the log records carry kind and text, not an uploaded file's name: remember what this
    // phone saw queued (kept per tab) to name recordings in the log
    const seen = JSON.parse(sessionStorage.getItem("langso-seen") || "{}");
    const remember = (b, label) => {
      if (!b || !b.id || (seen[b.id] && !label)) return;
      seen[b.id] = label || describe(b);
      sessionStorage.setItem("langso-seen", JSON.stringify(seen));
    };
    function describe(b) { return b.text || b.url || seen[b.id] || (b.kind === "audio" ? T.recording_item : b.id); }
    const prio = (p) => T["prio_" + p] || p;
    const act = (label, fn) => h("button", { type: "button", onclick: async () => { try { await fn(); load(); } catch (e) { say(problem(e), true); } } }, label);
    async function load() {
      let data;
      try { data = await api("GET", "/api/v1/broadcasts"); } catch (e) { refused(e); return; }
      const queue = $("#queue"), log = $("#log"), inbox = $("#inbox");
      [data.playing, ...(data.queue || []), ...(data.inbox || [])].forEach(remember);
      queue.replaceChildren();
      if (data.playing) queue.append(h("li", { class: "playing" }, h("span", {}, h("b", {}, T.playing + ": "), describe(data.playing)),
        act(T.stop, () => api("DELETE", `/api/v1/broadcasts/${encodeURIComponent(data.playing.id)}`))));
      for (const b of data.queue || []) {
        queue.append(h("li", {}, h("span", {}, `${describe(b)} (${prio(b.priority)}${b.repeat > 1 ? " ×" + b.repeat : ""}${b.at ? " · " + when(b.at) : ""})`),
          act(T.cancel, () => api("DELETE", `/api/v1/broadcasts/${encodeURIComponent(b.id)}`))));
      }
      if (!queue.children.length) queue.append(h("li", {}, T.queue_empty));
      inbox.replaceChildren(...(data.inbox || []).map((b) => h("li", {}, h("span", {}, `${describe(b)} (${who(b.who)})`),
        act(T.approve, () => api("POST", `/api/v1/broadcasts/${encodeURIComponent(b.id)}/approve`, {})),
        act(T.cancel, () => api("DELETE", `/api/v1/broadcasts/${encodeURIComponent(b.id)}`)))));
      $("#inbox-box").hidden = !inbox.children.length;
      // why it ended, in the page's words; a reason without a kind (an unexpected error) is
      // the technician's English, marked as Hệ thống marks it, never translated by machine
      const why = (b) => !b.reason ? [] : b.reason_kind ? [": " + b.reason]
        : [": " + T.for_technician + " ", h("span", { lang: "en" }, b.reason)];
      log.replaceChildren(...(data.log || []).slice(0, 20).map((b) => h("li", { class: "outcome-" + b.outcome },
        h("span", {}, `${when(b.started || b.ended)} · ${describe(b)}`),
        h("small", {}, T["outcome_" + b.outcome] || b.outcome, ...why(b), ` · ${who(b.who)}`
          + (b.approved_by ? ` · ${fill(T.approved_by, { who: who(b.approved_by) })}` : "")))));
      if (!log.children.length) log.append(h("li", {}, T.log_empty));
    }
    $("#preview").addEventListener("click", async () => {
      if (!form.text.value.trim()) { say(T.need_text, true); form.text.focus(); return; }
      const btn = $("#preview"); btn.disabled = true;
      try {
        const audio = $("#preview-audio");
        audio.src = URL.createObjectURL(await api("POST", "/api/v1/broadcasts/preview", { text: form.text.value }));
        audio.hidden = false; say("");
        audio.play().catch(() => {});  // the phone may want a second tap on the player
      } catch (e) { say(problem(e), true); } finally { btn.disabled = false; }
    });
    let recorded = null, recordedNo = 0;  // the recording made on the phone, and which one
    // a recording or a file chosen can be dropped: then the typed text is what Phát sends
    const drop = $("#drop-audio");
    const audioChosen = () => { drop.hidden = !(recorded || form.file.files.length); };
    form.file.addEventListener("change", audioChosen);
    drop.addEventListener("click", () => {
      recorded = null; form.file.value = ""; $("#preview-audio").hidden = true; audioChosen(); say("");
    });
    if (window.isSecureContext && window.MediaRecorder && navigator.mediaDevices) {
      const btn = $("#record"); btn.hidden = false;
      let rec = null, chunks = [];
      btn.addEventListener("click", async () => {
        if (rec) { rec.stop(); return; }
        let stream;
        try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (e) { say(T.no_microphone, true); return; }
        rec = new MediaRecorder(stream); chunks = [];
        rec.ondataavailable = (ev) => chunks.push(ev.data);
        rec.onstop = () => { recorded = new Blob(chunks, { type: rec.mimeType }); recordedNo += 1; stream.getTracks().forEach((t) => t.stop()); rec = null; btn.textContent = T.record; const a = $("#preview-audio"); a.src = URL.createObjectURL(recorded); a.hidden = false; audioChosen(); };
        rec.start(); btn.textContent = T.recording;
      });
    }
    // each announcement carries an id the house knows it by: when the answer was lost on the
    // way back (3G) and the head taps Phát again, the same announcement is not queued twice
    let sending = null;  // {what, id, lost}: the announcement last sent, until it is answered
    const newId = () => "web-" + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const at = form.at.value ? new Date(form.at.value).getTime() / 1000 : null;
      const file = form.file.files[0] || recorded, repeat = Number(form.repeat.value);
      if (!file && !form.text.value.trim()) { say(T.need_text, true); form.text.focus(); return; }
      // both: which one the head means is not for the page to guess (the text was dropped, saying nothing)
      if (file && form.text.value.trim()) { say(T.text_and_audio, true); return; }
      if (!(repeat >= 1 && repeat <= 10 && Number.isInteger(repeat))) { say(T.bad_repeat, true); form.repeat.focus(); return; }
      if (at !== null && at < Date.now() / 1000 - 60) { say(T.past_time, true); form.at.focus(); return; }
      if (file && file.size > Number(form.dataset.maxUploadBytes)) { say(problem({ status: 413, message: form.dataset.tooLarge }), true); return; }
      const what = JSON.stringify([file ? (file === recorded ? recordedNo : [file.name, file.size, file.lastModified]) : form.text.value,
        form.priority.value, repeat, at]);
      if (!sending || sending.what !== what) sending = { what, id: newId(), lost: false };
      const btn = $("button[type=submit]", form); btn.disabled = true;
      say(T.sending, false);  // a recording takes a while over 3G: the head sees it is on its way
      const done = (said, isError) => { say(said, isError); form.reset(); recorded = null; audioChosen(); sending = null; load(); };
      try {
        let item;
        if (file) {
          const fd = new FormData();
          const ext = (file.type.includes("mp4") ? ".m4a" : file.type.includes("ogg") ? ".ogg" : ".webm");
          fd.append("file", file, file.name || "recording" + ext);
          fd.append("id", sending.id); fd.append("priority", form.priority.value); fd.append("repeat", repeat);
          if (at) fd.append("at", at);
          item = await api("POST", "/api/v1/broadcasts", fd);
        } else {
          item = await api("POST", "/api/v1/broadcasts", { id: sending.id, text: form.text.value, priority: form.priority.value, repeat, at });
        }
        remember(item, item.kind === "audio" && file && file.name ? file.name : undefined);
        done(item.warning || (item.state === "inbox" ? T.in_inbox : T.sent), !!item.warning);
      } catch (e) {
        // the id was used by this very announcement, sent before and played since (its answer was lost)
        if (e.status === 409 && sending.lost) done(T.sent_before, false);
        else if (!e.status && e.message) { sending.lost = true; say(T.lost_answer, true); }
        else say(problem(e), true);
      } finally { btn.disabled = false; }
    });
    on("broadcast.state", load); on("broadcast.log", load); on("resync", load);
    load();
  },

  schedules() {
    const form = $("#add-schedule"), days = T.days_short.split(" ");
    // what a programme does, as the village head says it: "Tivi bật lúc 18:00, tắt lúc 22:00",
    // "Tiếp phát từ 06:00 đến 06:30: …/vov1.m3u8" (the equipment's label from the form's list)
    const labels = Object.fromEntries($$("option", form.target).map((o) => [o.value, o.textContent]));
    function what(s) {
      const p = s.payload, words = s.kind === "relay" ? (s.end ? T.sched_relay_window : T.sched_relay_on)
        : p.stream_url ? (s.end ? T.sched_stream_window : T.sched_stream) : p.text ? T.sched_read : p.audio_path ? T.sched_play : null;
      if (!words) return `${s.start}${s.end ? "–" + s.end : ""} · ${s.kind} ${s.target}`;  // a kind this page does not know
      const said = fill(words, { label: labels[s.target] || s.target, start: s.start, end: s.end, text: p.text, url: p.stream_url });
      return p.repeat > 1 ? `${said} ×${p.repeat}` : said;
    }
    async function load() {
      const data = await api("GET", "/api/v1/schedules");
      $("#schedules").replaceChildren(...data.schedules.map((s) => h("li", {},
        h("span", {}, `${what(s)} · ${s.days.length === 7 ? T.every_day : s.days.map((d) => days[d]).join(" ")}`),
        h("button", { onclick: async () => { if (confirm(T.confirm_delete)) { try { await api("DELETE", `/api/v1/schedules/${s.id}`); load(); } catch (e) { say(problem(e), true); } } } }, T.delete))));
    }
    const kindChanged = () => { const b = form.kind.value === "broadcast"; $$(".for-broadcast", form).forEach((el) => { el.hidden = !b; }); $(".for-relay", form).hidden = b; };
    form.kind.addEventListener("change", kindChanged); kindChanged();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const broadcast = form.kind.value === "broadcast";
      const body = { kind: form.kind.value, target: broadcast ? "loa" : form.target.value, start: form.start.value,
        end: form.end.value || null, days: $$("input[name=days]:checked", form).map((c) => Number(c.value)),
        payload: !broadcast ? {} : form.stream_url.value.trim() ? { stream_url: form.stream_url.value.trim() }
          : { text: form.text.value, repeat: Number(form.repeat.value) } };
      if (broadcast && !form.text.value.trim() && !form.stream_url.value.trim()) { say(T.need_text_or_stream, true); form.text.focus(); return; }
      if (broadcast && form.text.value.trim() && form.stream_url.value.trim()) { say(T.text_or_stream, true); return; }
      try { const made = await api("POST", "/api/v1/schedules", body); say(made.warning || T.saved, !!made.warning); load(); } catch (e) { say(problem(e), true); }
    });
    load().catch((e) => say(problem(e), true));
  },

  cameras() {
    const box = $("#cameras");
    if (!box) return;
    const filter = $("#camera-filter"), tagFilter = $("#tag-filter"), video = $("#clip");
    const tag = (t) => T["tag_" + t] || t;
    // "cổng · đã kết nối · ảnh lúc 06/12/2026 07:15": whether the camera is there now and how old
    // its picture is (one from before a drop stays on screen); why it dropped: on Hệ thống
    const caption = (c) => `${c.name} · ${c.connected ? T.connected : T.disconnected}${c.last_frame ? ` · ${T.picture_at} ${when(c.last_frame)}` : ""}`;
    async function loadCameras() {
      let data;
      try { data = await api("GET", "/api/v1/cameras"); } catch (e) { refused(e); return; }
      box.replaceChildren(...data.cameras.map((c) => h("figure", {},
        h("img", { src: `/api/v1/cameras/${encodeURIComponent(c.name)}/latest.jpg?t=${Date.now()}`, alt: c.name, "data-camera": c.name }),
        h("figcaption", { "data-camera": c.name }, caption(c)))));
      if (filter.options.length === 1) data.cameras.forEach((c) => filter.append(h("option", { value: c.name }, c.name)));
    }
    async function captions() {   // with each refresh of the pictures: a camera that drops says so
      let data;
      try { data = await api("GET", "/api/v1/cameras"); } catch (e) { return; }   // the live stream says the link is down
      for (const c of data.cameras) {
        const cap = $$("figcaption", box).find((el) => el.dataset.camera === c.name);
        if (cap) cap.textContent = caption(c);
      }
    }
    async function loadEvents() {
      let data;
      try { data = await api("GET", `/api/v1/events?limit=50${filter.value ? "&camera=" + encodeURIComponent(filter.value) : ""}`); } catch (e) { refused(e); return; }
      const tags = new Set(data.events.flatMap((ev) => ev.tags || []));
      for (const t of tags) if (!$$("option", tagFilter).some((o) => o.value === t)) tagFilter.append(h("option", { value: t }, tag(t)));
      const events = data.events.filter((ev) => !tagFilter.value || (ev.tags || []).includes(tagFilter.value)).sort((a, b) => b.start - a.start);
      $("#events").replaceChildren(...events.map((ev) => h("li", { "data-event": ev.id },
        ev.snapshot_url ? h("img", { src: ev.snapshot_url, alt: "", loading: "lazy", width: 96, height: 54 }) : null,
        h("span", {}, `${ev.camera} · ${when(ev.start)}${ev.end ? "" : " · " + T.recording_now}${ev.interrupted ? " · " + T.interrupted : ""} `,
          ...(ev.tags || []).map((t) => h("span", { class: "tag" }, tag(t)))),
        ev.clip_url ? h("button", { class: "play", "aria-label": T.play_clip, onclick: () => {
          video.src = ev.clip_url; video.hidden = false; video.play().catch(() => {}); video.scrollIntoView({ block: "center" });
        } }, "▶") : null)));
      if (!events.length) $("#events").append(h("li", {}, T.no_events));
    }
    filter.addEventListener("change", loadEvents); tagFilter.addEventListener("change", loadEvents);
    on("camera.event", loadEvents); on("resync", loadEvents);
    loadCameras(); loadEvents();
    // the latest pictures refresh every 5 s while the page is visible (saves the phone's data).
    // On a slow link a picture can take longer than that: the next is asked only once the last
    // has come, and it replaces the one shown only when it is all there (setting img.src
    // again dropped the picture on its way and blanked the one shown, so a weak 3G showed none)
    async function refresh(img) {
      if (img.dataset.asking) return;
      img.dataset.asking = "1";
      try {
        const resp = await fetch(`/api/v1/cameras/${encodeURIComponent(img.dataset.camera)}/latest.jpg`, { credentials: "same-origin", cache: "no-store" });
        if (resp.ok) {
          const shown = img.src;
          img.src = URL.createObjectURL(await resp.blob());
          if (shown.startsWith("blob:")) URL.revokeObjectURL(shown);
        }
      } catch (e) { /* the link is down: the picture shown stays, the live stream says so */ }
      finally { delete img.dataset.asking; }
    }
    setInterval(() => { if (!document.hidden) { $$("img", box).forEach(refresh); captions(); } }, 5000);
  },

  system() {
    if (!$("#users")) return;
    const form = $("#add-user"), tform = $("#add-token");
    // a scope as the technician's form says it, its own name kept beside it: "xem camera (events:read)"
    const scope = (s) => T["scope_" + s] ? `${T["scope_" + s]} (${s})` : s;
    async function load() {
      const [u, t] = await Promise.all([api("GET", "/api/v1/users"), api("GET", "/api/v1/tokens")]);
      $("#users").replaceChildren(...u.users.map((x) => h("li", {}, h("span", {}, `${x.name} (${T["role_" + x.role] || x.role})` + (x.must_change ? ` · ${T.password_pending}` : "")),
        h("button", { onclick: async () => { if (confirm(T.confirm_delete)) { try { await api("DELETE", `/api/v1/users/${encodeURIComponent(x.name)}`); load(); } catch (e) { say(problem(e), true); } } } }, T.delete))));
      $("#tokens").replaceChildren(...t.tokens.map((x) => h("li", {},
        h("span", {}, `${x.name} · ${x.scopes.map(scope).join(", ")} · ${when(x.created_at)}` + (x.last_used ? ` · ${T.last_used} ${when(x.last_used)}` : "")),
        x.revocable ? h("button", { onclick: async () => { if (confirm(T.confirm_delete)) { try { await api("DELETE", `/api/v1/tokens/${x.id}`); load(); } catch (e) { say(problem(e), true); } } } }, T.revoke)
          : h("span", { class: "hint" }, T.cli_token))));
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", "/api/v1/users", { name: form.name.value, role: form.role.value, password: form.password.value }); form.reset(); say(T.saved); load(); } catch (e) { say(problem(e), true); }
    });
    tform.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const r = await api("POST", "/api/v1/tokens", { name: tform.name.value, scopes: $$("input[name=scopes]:checked", tform).map((c) => c.value) });
        $("#new-token").textContent = `${T.token_once} ${r.token}`; load();
      } catch (e) { say(problem(e), true); }
    });
    load().catch((e) => say(problem(e), true));
  },
};

document.addEventListener("DOMContentLoaded", () => {
  const page = pages[document.body.dataset.page];
  if (page) { restoreDraft(); page(); live(); }
});
