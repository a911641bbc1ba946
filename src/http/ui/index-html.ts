// The web UI's only HTML page: a shell that app.js fills in (see web-ui.ts). No inline script or style.
export const indexHtml = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Ferry</title>
    <link rel="icon" href="/ui/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="/ui/styles.css" />
    <script type="module" src="/ui/app.js"></script>
  </head>
  <body>
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">Ferry</span>
      <nav aria-label="Main">
        <a href="#/partners" data-nav="partners">Partners</a>
        <a href="#/deliveries" data-nav="deliveries">Deliveries</a>
        <a href="#/upload" data-nav="upload" data-operator hidden>Send a file now</a>
        <a href="/admin">Bull Board</a>
      </nav>
      <span class="who" id="who" aria-live="polite"></span>
    </header>
    <div id="flash" class="flash" role="status" aria-live="polite"></div>
    <main id="main" tabindex="-1">
      <noscript>This page needs JavaScript. Bull Board is at <a href="/admin">/admin</a>.</noscript>
      <p class="muted">Loading…</p>
    </main>
  </body>
</html>
`;
