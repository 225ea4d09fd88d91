/* trackflow first-party script (GET /tf.js, API.md). Keeps the landing URL's tfclid in a
   first-party _tfclid cookie; trackflow.conversion({...}) requests /pixel on this script's own
   origin with click_id from that cookie. No dependencies; nothing is sent or set otherwise. */
(function (w, d) {
  "use strict";
  var NAME = "_tfclid", MAX_AGE = 7776000; // 90 days, in seconds
  var script = d.currentScript;
  if (!script || !script.src) {
    var all = d.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/tf\.js(\?|#|$)/.test(all[i].src || "")) { script = all[i]; break; }
    }
  }
  var origin = "";
  try { origin = new URL(script.src, w.location.href).origin; } catch (e) {}

  function readClick() {
    var m = d.cookie.match(/(?:^|;\s*)_tfclid=([0-9a-f]{32})(?:;|$)/);
    return m ? m[1] : "";
  }

  function keepClick() {
    var id = "";
    try { id = new URLSearchParams(w.location.search).get("tfclid") || ""; } catch (e) {}
    id = id.toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) return;
    d.cookie = NAME + "=" + id + "; Path=/; Max-Age=" + MAX_AGE + "; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }

  function conversion(params) {
    if (!origin || !params) return;
    var q = [];
    for (var k in params) {
      if (Object.prototype.hasOwnProperty.call(params, k) && k !== "click_id" &&
          params[k] !== null && params[k] !== undefined) {
        q.push(encodeURIComponent(k) + "=" + encodeURIComponent(String(params[k])));
      }
    }
    var click = readClick();
    if (click) q.push("click_id=" + click);
    var img = new Image(1, 1);
    img.src = origin + "/pixel?" + q.join("&");
  }

  function run(call) {
    // A queued call is ["conversion", {...}] (or its arguments object).
    if (call && call[0] === "conversion") conversion(call[1]);
  }

  keepClick();
  var queue = w.trackflow;
  var api = { conversion: conversion, push: function () { for (var i = 0; i < arguments.length; i++) run(arguments[i]); } };
  w.trackflow = api;
  if (queue && typeof queue.length === "number") {
    for (var j = 0; j < queue.length; j++) run(queue[j]);
  }
})(window, document);
