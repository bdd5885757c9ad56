// natter web chat: posts messages and shows the bot's replies as they are
// written (Server-Sent Events). The server sends replies as safe HTML; what
// the user typed is shown as text. A picture goes with its caption as a
// multipart post; the page shows it from a data: URL (the page's policy
// allows no blob: URLs).
(() => {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const typing = document.getElementById("typing");
  const picker = document.getElementById("picture");
  const picked = document.getElementById("picked");

  const post = (url, fields) =>
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    });

  const scroll = () => { log.scrollTop = log.scrollHeight; };

  const add = (who, id) => {
    const msg = document.createElement("div");
    msg.className = "msg " + who;
    if (id) msg.id = "m-" + id;
    const body = document.createElement("div");
    body.className = "body";
    msg.appendChild(body);
    log.appendChild(msg);
    return msg;
  };

  const send = (text) => {
    add("user").querySelector(".body").textContent = text;
    scroll();
    post("/chat/send", { text }).then((r) => {
      if (!r.ok) note("Not sent (" + r.status + "): reload the page if you logged out.");
    }, () => note("Not sent: the server cannot be reached."));
  };

  const note = (text) => {
    const msg = add("notice");
    msg.querySelector(".body").textContent = text;
    scroll();
  };

  const sendPicture = (text, file) => {
    const body = add("user").querySelector(".body");
    const img = document.createElement("img");
    img.className = "sent";
    img.alt = "your picture";
    const reader = new FileReader();
    reader.onload = () => { img.src = reader.result; scroll(); };
    reader.readAsDataURL(file);
    body.appendChild(img);
    if (text) {
      const caption = document.createElement("p");
      caption.textContent = text;
      body.appendChild(caption);
    }
    scroll();
    const data = new FormData();
    data.append("text", text);
    data.append("picture", file, file.name);
    fetch("/chat/picture", {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf },
      body: data,
    }).then((r) => {
      if (!r.ok) note("Picture not sent (" + r.status + "): " + (r.status === 413 ? "it is too large." : "reload the page if you logged out."));
    }, () => note("Not sent: the server cannot be reached."));
  };

  picker.addEventListener("change", () => {
    const file = picker.files[0];
    picked.hidden = !file;
    picked.textContent = file ? file.name : "";
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    const file = picker.files[0];
    if (file) {
      input.value = "";
      picker.value = "";
      picked.hidden = true;
      sendPicture(text, file);
      return;
    }
    if (!text) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("stop").addEventListener("click", () => send("/stop"));
  for (const picker of document.querySelectorAll("select[data-command]")) {
    picker.addEventListener("change", () => {
      if (picker.value) send("/" + picker.dataset.command + " " + picker.value);
    });
  }

  const show = (event) => {
    typing.hidden = true;
    let msg = document.getElementById("m-" + event.id);
    if (!msg) msg = add("bot", event.id);
    msg.querySelector(".body").innerHTML = event.html;
    const actions = msg.querySelector(".actions");
    if (actions) actions.remove();
    return msg;
  };

  const ask = (event) => {
    const msg = show(event);
    const actions = document.createElement("div");
    actions.className = "actions";
    for (const [label, decision] of [["Allow", "allow"], ["Refuse", "refuse"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.decision = decision;
      button.addEventListener("click", () => {
        post("/chat/approval", { approval: event.approval, decision })
          .then((r) => r.json())
          .then((answer) => { if (answer.message && !answer.message.match(/^(Allowed|Refused)\.$/)) note(answer.message); });
      });
      actions.appendChild(button);
    }
    msg.appendChild(actions);
  };

  const events = new EventSource("/chat/events");
  events.onmessage = (e) => {
    const event = JSON.parse(e.data);
    if (event.kind === "typing") { typing.hidden = false; }
    else if (event.kind === "approval") { ask(event); }
    else { show(event); }
    scroll();
  };
  scroll();
})();
