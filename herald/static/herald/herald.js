// Small behaviours of every page, without inline handlers (the Content-Security-Policy allows
// no inline script): a <select data-autosubmit> submits its form when changed; a
// <form data-confirm="question"> asks before it is submitted.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
// A form field with data-when="other" data-is="a b" shows only while the field named "other"
// in its form has the value a or b (e.g. the OAuth settings of a mailbox).
function applyConditions(root) {
  for (const row of root.querySelectorAll("[data-when]")) {
    const form = row.closest("form");
    const other = form && form.elements.namedItem(row.dataset.when);
    if (other) row.hidden = !row.dataset.is.split(" ").includes(other.value);
  }
}
document.addEventListener("change", (event) => {
  if (event.target.form) applyConditions(event.target.form);
});
document.addEventListener("DOMContentLoaded", () => applyConditions(document));
// On a phone a search form shows its first field only, until "More filters" (or a filter already
// in use) shows the others.
function showAllFilters(form) {
  form.classList.add("show-all");
  const more = form.querySelector("[data-more-filters]");
  if (more) more.setAttribute("aria-expanded", "true");
}
document.addEventListener("click", (event) => {
  const more = event.target.closest("[data-more-filters]");
  if (more && more.form) showAllFilters(more.form);
});
document.addEventListener("DOMContentLoaded", () => {
  for (const more of document.querySelectorAll("[data-more-filters]")) {
    const fields = more.form.querySelectorAll("select, input:not([type=hidden]):not([type=search])");
    const used = [...fields].some((field) => (field.tagName === "SELECT" ? field.selectedIndex > 0 : field.value));
    if (used) showAllFilters(more.form);
  }
});
