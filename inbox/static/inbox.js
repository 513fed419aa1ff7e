// The staff inbox, live: polls the record's feed and refreshes what changed in place,
// moves through the list with j/k, focuses the reply with r, resolves with e, and counts
// a reply's SMS segments as it is typed. Pages work without it: every action is a form.
(function () {
  "use strict";

  // Each ask is one Redis read when nothing changed: often enough that a new text shows
  // within a second of arriving.
  var POLL_MS = 500;
  var feedUrl = document.body.getAttribute("data-feed-url");

  function fetchHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (text) { return new DOMParser().parseFromString(text, "text/html"); });
  }

  function swap(selector, fresh) {
    var old = document.querySelector(selector);
    var replacement = fresh.querySelector(selector);
    if (old && replacement) { old.replaceWith(replacement); }
  }

  function refreshRows() {
    var rows = document.getElementById("rows");
    if (!rows) { return Promise.resolve(); }
    return fetchHtml(rows.getAttribute("data-rows-url")).then(function (fresh) {
      var focused = document.activeElement && document.activeElement.closest("#rows li");
      var phone = focused ? focused.getAttribute("data-phone") : null;
      rows.innerHTML = fresh.body.innerHTML;
      if (phone) {
        var again = rows.querySelector('li[data-phone="' + phone + '"] a');
        if (again) { again.focus(); }
      }
    });
  }

  function refreshThread() {
    var thread = document.getElementById("thread");
    // An earlier page of the thread stays as it is: new messages are on the latest one.
    if (!thread || window.location.search.indexOf("before=") >= 0) { return Promise.resolve(); }
    return fetchHtml(thread.getAttribute("data-timeline-url")).then(function (fresh) {
      // The composer stays: what staff are typing is theirs.
      swap(".thread__head", fresh);
      swap(".thread__body", fresh);
    });
  }

  function setWaiting(count) {
    document.querySelectorAll("[data-waiting-count]").forEach(function (node) {
      node.textContent = String(count);
    });
  }

  // Where the feed stood before the page read the record: what was written since is news.
  var after = document.body.getAttribute("data-feed-after");
  function poll() {
    if (!feedUrl) { return; }
    var url = feedUrl + (after ? "?after=" + encodeURIComponent(after) : "");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var first = !after;
        after = data.last;
        if (data.waiting !== null) { setWaiting(data.waiting); }
        if (first || !data.changed.length) { return; }
        var tasks = [refreshRows()];
        var thread = document.getElementById("thread");
        if (thread && data.changed.indexOf(thread.getAttribute("data-phone")) >= 0) {
          tasks.push(refreshThread());
        }
        return Promise.all(tasks);
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  // SMS segments, as flows/sms.py counts them.
  function segments(text, basic, extended) {
    var gsm = true, length = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (basic.indexOf(ch) >= 0) { length += 1; }
      else if (extended.indexOf(ch) >= 0) { length += 2; }
      else { gsm = false; break; }
    }
    if (!gsm) { length = text.length; }  // UTF-16 code units, as carriers count UCS-2
    var single = gsm ? 160 : 70, part = gsm ? 153 : 67;
    var count = length === 0 ? 0 : (length <= single ? 1 : Math.ceil(length / part));
    return { count: count, length: length, encoding: gsm ? "GSM-7" : "UCS-2" };
  }

  function watchReply() {
    var box = document.getElementById("reply-body");
    var note = document.getElementById("reply-count");
    if (!box || !note) { return; }
    var basic = box.getAttribute("data-gsm-basic") || "";
    var extended = box.getAttribute("data-gsm-extended") || "";
    var tracked = document.getElementById("track-links");
    var shortLink = new Array(Number(box.getAttribute("data-short-link") || 0) + 1).join("x");
    // Tracked, each link goes out as a short link: counted that long (flows/links.py).
    function asSent(text) {
      if (!tracked || !tracked.checked) { return text; }
      return text.replace(/https?:\/\/[^\s<>"'`{}|\\^]+/gi, function (link) {
        var tail = link.match(/[.,;:!?)\]}'"]*$/)[0];
        return link.length > tail.length + 8 ? shortLink + tail : link;
      });
    }
    function update() {
      var s = segments(asSent(box.value), basic, extended);
      note.textContent = s.length ? s.length + " characters, " + s.count +
        (s.count === 1 ? " SMS segment" : " SMS segments") + " (" + s.encoding + ")" : "";
    }
    box.addEventListener("input", update);
    if (tracked) { tracked.addEventListener("change", update); }
    update();
  }

  // Picking a canned reply puts its text in the Reply box, counted like typing.
  function watchCanned() {
    var menu = document.querySelector("select[data-canned-for]");
    if (!menu) { return; }
    menu.addEventListener("change", function () {
      var box = document.getElementById(menu.getAttribute("data-canned-for"));
      if (!box || !menu.value) { return; }
      box.value = menu.value;
      box.dispatchEvent(new Event("input", { bubbles: true }));
      box.focus();
    });
  }

  function typing(event) {
    var target = event.target;
    return target.isContentEditable || /^(input|textarea|select)$/i.test(target.tagName);
  }

  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#rows .row__name"));
    if (!links.length) { return; }
    var index = links.indexOf(document.activeElement);
    if (index < 0) {
      var current = document.querySelector('#rows .row__name[aria-current="true"]');
      index = current ? links.indexOf(current) : -1;
    }
    var next = Math.min(Math.max(index + step, 0), links.length - 1);
    links[next].focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event)) { return; }
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "r") {
      var box = document.getElementById("reply-body");
      if (box && !box.disabled) { box.focus(); event.preventDefault(); }
    } else if (event.key === "e") {
      var resolve = document.querySelector('form[data-key="e"]');
      if (resolve) { resolve.requestSubmit ? resolve.requestSubmit() : resolve.submit(); event.preventDefault(); }
    }
  });

  watchReply();
  watchCanned();
  poll();
})();
