// codeexec — Playground: the page's entry (bundled by tsup into dist-web/playground/main.js).
document.getElementById('app')?.setAttribute('data-ready', 'true');
