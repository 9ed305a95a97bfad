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
