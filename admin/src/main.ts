// codeexec — Operator's dashboard: the page's entry (bundled by tsup into dist-web/admin/main.js).
document.getElementById('app')?.setAttribute('data-ready', 'true');
