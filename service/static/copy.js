// Copy text to the clipboard, with a fallback for browsers without the async clipboard API.
"use strict";

(function () {
  function announce(message) {
    const region = document.getElementById("announce");
    if (region) {
      region.textContent = "";
      window.setTimeout(function () { region.textContent = message; }, 50);
    }
  }

  function fallbackCopy(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (err) {
      // fall through to the fallback
    }
    return fallbackCopy(text);
  }

  function flash(button, ok) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? "Copied" : "Copy failed";
    button.dataset.copied = ok ? "true" : "false";
    announce(ok ? "Copied to the clipboard" : "Could not copy: select the text and copy it");
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  window.iomqa = Object.assign(window.iomqa || {}, { copyText, flash, announce });

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-copy-from]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copyFrom);
    if (!source) return;
    const text = "value" in source ? source.value : source.textContent;
    flash(button, await copyText(text));
  });
})();
