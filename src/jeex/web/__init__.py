"""The browser UI: static files (HTML, CSS, JavaScript modules) served by the app."""
